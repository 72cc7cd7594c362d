"""Statistics over per-instance results: paired Wilcoxon signed-rank tests (scipy.stats), Holm's
correction over a family, the matched-pairs rank-biserial effect size, seeded percentile-bootstrap
confidence intervals of means, and the robustness gap. Pure numpy/scipy."""
from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import dataclass, replace
from typing import Hashable, Mapping, Sequence

import numpy as np
from scipy import stats

N_RESAMPLES = 2000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class PairedTest:
    """Wilcoxon signed-rank test of a against b on matched pairs. ``effect_size`` is the matched-pairs
    rank-biserial correlation (R+ - R-) / (R+ + R-) in [-1, 1], positive when a tends to exceed b."""

    n: int  # matched pairs
    n_nonzero: int  # pairs with a != b (zero differences are dropped, Wilcoxon's convention)
    statistic: float  # scipy's: min(R+, R-) two-sided, R+ one-sided
    pvalue: float
    effect_size: float
    mean_diff: float  # mean of a - b over all pairs
    median_diff: float
    p_holm: float = math.nan  # set by ``holm_family``


@dataclass(frozen=True)
class Gap:
    """Robustness gap on matched instances: mean(clear) - mean(degraded), with a bootstrap CI."""

    n: int
    clear: float
    degraded: float
    gap: float
    ci_low: float
    ci_high: float


def match_pairs(keys_a: Sequence[Hashable], values_a: Sequence[float], keys_b: Sequence[Hashable],
                values_b: Sequence[float], where: str = "") -> tuple[np.ndarray, np.ndarray, list]:
    """Inner join of two scored sets on their keys (e.g. (image_id, object_id)); keys in a's order.
    A key repeated within one side is an error: a pairing would be ambiguous."""
    at = f" ({where})" if where else ""
    for name, keys, vals in (("a", keys_a, values_a), ("b", keys_b, values_b)):
        if len(keys) != len(vals):
            raise ValueError(f"side {name}{at}: {len(keys)} keys but {len(vals)} values")
        dup = next((k for k, c in Counter(keys).items() if c > 1), None)
        if dup is not None:
            raise ValueError(f"side {name}{at}: key {dup!r} occurs more than once; pairs must be unique")
    index_b = {k: i for i, k in enumerate(keys_b)}
    common = [k for k in keys_a if k in index_b]
    ia = {k: i for i, k in enumerate(keys_a)}
    a = np.array([values_a[ia[k]] for k in common], dtype=np.float64)
    b = np.array([values_b[index_b[k]] for k in common], dtype=np.float64)
    return a, b, common


def rank_biserial(a: np.ndarray, b: np.ndarray) -> float:
    """Matched-pairs rank-biserial correlation (Kerby 2014): ranks of |a - b| over nonzero differences
    (average ranks for ties); 0.0 when every difference is zero."""
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    d = d[d != 0]
    if d.size == 0:
        return 0.0
    r = stats.rankdata(np.abs(d))
    return float((r[d > 0].sum() - r[d < 0].sum()) / r.sum())


def paired_wilcoxon(a: Sequence[float], b: Sequence[float], alternative: str = "two-sided") -> PairedTest:
    """scipy.stats.wilcoxon(a, b) with zero_method="wilcox" and method="auto" (exact for small samples
    without ties, normal approximation otherwise). All differences zero -> p = 1, statistic 0."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired samples must be 1-d and equal in length, got {a.shape} and {b.shape}")
    if a.size == 0:
        raise ValueError("paired test needs at least one pair")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("paired samples contain NaN or inf")
    d = a - b
    nz = int(np.count_nonzero(d))
    if nz == 0:
        stat, p = 0.0, 1.0
    else:
        res = stats.wilcoxon(a, b, zero_method="wilcox", alternative=alternative, method="auto")
        stat, p = float(res.statistic), float(res.pvalue)
    return PairedTest(n=int(a.size), n_nonzero=nz, statistic=stat, pvalue=p, effect_size=rank_biserial(a, b),
                      mean_diff=float(d.mean()), median_diff=float(np.median(d)))


def across_datasets(means_a: Mapping[str, float], means_b: Mapping[str, float],
                    alternative: str = "two-sided") -> PairedTest:
    """RUAC's test: one pair per dataset (the per-dataset means of the two models), Wilcoxon over them."""
    a, b, _ = match_pairs(list(means_a), list(means_a.values()), list(means_b), list(means_b.values()), "datasets")
    return paired_wilcoxon(a, b, alternative)


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error), in the input order, capped at 1:
    sorted ascending, p_(i) x (m - i + 1), made non-decreasing. Reject where adjusted p <= alpha."""
    p = np.asarray(pvalues, dtype=np.float64)
    if np.isnan(p).any():
        raise ValueError("Holm correction got a NaN p-value")
    m = p.size
    order = np.argsort(p, kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out = np.empty(m)
    out[order] = adj
    return out


def holm_family(tests: Sequence[PairedTest]) -> list[PairedTest]:
    """The same tests with ``p_holm`` filled, treating them as one family."""
    return [replace(t, p_holm=float(q)) for t, q in zip(tests, holm([t.pvalue for t in tests]))]


def stat_rng(seed: int, key: str) -> np.random.Generator:
    """A generator per reported cell (key e.g. "model/dataset/condition/metric"), so every interval is
    reproducible on its own, whatever else is computed and in whatever order."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF,
                                                         int.from_bytes(digest, "little")]))


def bootstrap_means(values: Sequence[float], rng: np.random.Generator, n_resamples: int = N_RESAMPLES) -> np.ndarray:
    """Means of ``n_resamples`` resamples with replacement, drawn in chunks to bound memory."""
    x = np.asarray(values, dtype=np.float64)
    out = np.empty(n_resamples)
    chunk = max(1, 4_000_000 // max(1, x.size))
    for s in range(0, n_resamples, chunk):
        k = min(chunk, n_resamples - s)
        out[s:s + k] = x[rng.integers(0, x.size, size=(k, x.size))].mean(axis=1)
    return out


def bootstrap_mean_ci(values: Sequence[float], *, seed: int = 0, key: str = "", n_resamples: int = N_RESAMPLES,
                      confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """(mean, low, high): percentile bootstrap CI of the mean, the (1 -/+ confidence)/2 quantiles of
    the resampled means (numpy's linear interpolation). Empty -> NaNs; NaN values are an error."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return math.nan, math.nan, math.nan
    if np.isnan(x).any():
        raise ValueError(f"bootstrap of {key or 'values'}: NaN among the values")
    means = bootstrap_means(x, stat_rng(seed, key), n_resamples)
    lo, hi = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(x.mean()), float(lo), float(hi)


def robustness_gap(keys_clear: Sequence[Hashable], clear: Sequence[float], keys_degraded: Sequence[Hashable],
                   degraded: Sequence[float], *, seed: int = 0, key: str = "") -> Gap:
    """Clear minus degraded on the instances present in both (the same objects, so the gap is not a
    difference of populations), with a paired bootstrap CI of the mean gap."""
    c, d, _ = match_pairs(keys_clear, clear, keys_degraded, degraded, key)
    if c.size == 0:
        return Gap(0, math.nan, math.nan, math.nan, math.nan, math.nan)
    g, lo, hi = bootstrap_mean_ci(c - d, seed=seed, key=key)
    return Gap(int(c.size), float(c.mean()), float(d.mean()), g, lo, hi)
