"""Uncertainty metrics for models that give a per-pixel uncertainty map or a per-mask confidence:
does the uncertainty point at the errors? Pure numpy/scipy.

Pixel level (one instance: prediction, ground truth, uncertainty, all (H, W)); error = pred != gt:
- AUROC of uncertainty as a detector of error pixels (ties count one half, as ROC AUC does);
- AURC and E-AURC (Geifman & El-Yaniv): pixels taken from most to least certain, selective risk =
  error rate of the pixels kept, averaged over all coverages; E-AURC subtracts the AURC of the best
  possible order. Equal uncertainties are one block: within it, risk is the block's average (the
  expected value over orders), so the result does not depend on how a sort breaks ties;
- PAvPU (Mukhoti & Gal 2018): non-overlapping patch x patch windows from the top-left (a remainder
  smaller than a patch is dropped); a patch is accurate if its pixel accuracy >= 0.5 and certain if
  its mean uncertainty < the threshold; PAvPU = (accurate-certain + inaccurate-uncertain) / patches.
Mask level (over instances): ECE of a confidence against an accuracy in [0, 1] (equal-width bins,
each bin (lower, upper], 0 in the first), and the uncertainty-error correlation."""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

PAVPU_PATCH = 4
PAVPU_ACCURACY = 0.5
PAVPU_UNCERTAINTY = 0.5
ECE_BINS = 15


def _flat(uncertainty: np.ndarray, target: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    if np.shape(uncertainty) != np.shape(target):
        raise ValueError(f"uncertainty {np.shape(uncertainty)} and {what} {np.shape(target)} differ in shape")
    u = np.asarray(uncertainty).ravel()
    if u.dtype not in (np.float32, np.float64):  # keep float32 as is: sorting it is faster
        u = u.astype(np.float64)
    if not np.isfinite(u).all():
        raise ValueError("uncertainty contains NaN or inf")
    return u, np.asarray(target, np.float64).ravel()


def _blocks(u: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted by uncertainty (most certain first): per block of equal uncertainty, its size and the
    sum of the target over it. A 0/1 target (pixel errors) needs no argsort: the block sums are
    counts of the sorted error uncertainties below each block's end."""
    if u.size == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    binary = bool(np.all((t == 0) | (t == 1)))
    order = None if binary else np.argsort(u, kind="stable")
    us = np.sort(u) if binary else u[order]
    starts = np.flatnonzero(np.r_[True, us[1:] != us[:-1]])
    sizes = np.diff(np.r_[starts, us.size])
    if binary:
        ends = np.searchsorted(np.sort(u[t == 1]), us[starts], side="right")
        return sizes, np.diff(np.r_[0, ends]).astype(np.float64)
    return sizes, np.add.reduceat(t[order], starts)


def _auroc_of_blocks(sizes: np.ndarray, errs: np.ndarray) -> float:
    oks = sizes - errs
    n_err, n_ok = errs.sum(), oks.sum()
    if n_err == 0 or n_ok == 0:
        return math.nan
    return float((errs * (np.cumsum(oks) - oks + 0.5 * oks)).sum() / (n_err * n_ok))


def error_auroc(uncertainty: np.ndarray, error: np.ndarray) -> float:
    """P(uncertainty of an error pixel > that of a correct pixel), ties 1/2; NaN without both kinds."""
    return _auroc_of_blocks(*_blocks(*_flat(uncertainty, error, "error")))


def _aurc_of_blocks(sizes: np.ndarray, sums: np.ndarray) -> float:
    n = int(sizes.sum())
    k = np.arange(1, n + 1, dtype=np.float64)
    block = np.repeat(np.arange(sizes.size), sizes)
    before_n = np.repeat(np.cumsum(sizes) - sizes, sizes)
    before_r = np.repeat(np.cumsum(sums) - sums, sizes)
    cum = before_r + (k - before_n) * (sums / sizes)[block]  # risk spread evenly inside a tied block
    return float((cum / k).mean())


def aurc(uncertainty: np.ndarray, risk: np.ndarray) -> float:
    """Area under the risk-coverage curve; ``risk`` per item (0/1 error per pixel, or 1 - IoU per mask)."""
    u, r = _flat(uncertainty, risk, "risk")
    if u.size == 0:
        return math.nan
    return _aurc_of_blocks(*_blocks(u, r))


def e_aurc(uncertainty: np.ndarray, risk: np.ndarray) -> float:
    """AURC minus the AURC of the oracle order (lowest risk first): 0 for a perfect ranking."""
    u, r = _flat(uncertainty, risk, "risk")
    if u.size == 0:
        return math.nan
    best = np.sort(r)
    k = np.arange(1, r.size + 1)
    return _aurc_of_blocks(*_blocks(u, r)) - float((np.cumsum(best) / k).mean())


def pavpu(pred: np.ndarray, gt: np.ndarray, uncertainty: np.ndarray, patch: int = PAVPU_PATCH,
          accuracy_threshold: float = PAVPU_ACCURACY, uncertainty_threshold: float = PAVPU_UNCERTAINTY) -> float:
    """Patch accuracy vs patch uncertainty; NaN when the image is smaller than one patch."""
    correct = np.asarray(pred, bool) == np.asarray(gt, bool)
    u, _ = _flat(uncertainty, correct, "mask")
    u = u.reshape(correct.shape)
    h, w = (correct.shape[0] // patch) * patch, (correct.shape[1] // patch) * patch
    if h == 0 or w == 0:
        return math.nan

    def pooled(a: np.ndarray) -> np.ndarray:
        return a[:h, :w].reshape(h // patch, patch, w // patch, patch).mean(axis=(1, 3))

    accurate = pooled(correct.astype(np.float64)) >= accuracy_threshold
    certain = pooled(u) < uncertainty_threshold
    return float(np.mean(accurate == certain))


def ece(confidence: np.ndarray, accuracy: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """Expected calibration error: sum over bins of (share of items) x |mean confidence - mean accuracy|.
    Confidences outside [0, 1] are an error (clip a model's predicted IoU first, and say so)."""
    c, a = _flat(confidence, accuracy, "accuracy")
    if c.size == 0:
        return math.nan
    if c.min() < 0 or c.max() > 1:
        raise ValueError(f"confidence must lie in [0, 1], got range [{c.min()}, {c.max()}]")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    b = np.clip(np.searchsorted(edges, c, side="left") - 1, 0, n_bins - 1)
    gap = np.abs(np.bincount(b, c, n_bins) - np.bincount(b, a, n_bins))  # |sum conf - sum acc| per bin
    return float(gap.sum() / c.size)


def ua_correlation(uncertainty: np.ndarray, error: np.ndarray) -> dict[str, float]:
    """Correlation over instances of mean uncertainty with error (1 - IoU): positive = uncertainty
    rises where the mask is worse. Pearson and Spearman; NaN for fewer than 3 instances or constants."""
    u, e = _flat(uncertainty, error, "error")
    if u.size < 3 or np.ptp(u) == 0 or np.ptp(e) == 0:
        return {"pearson": math.nan, "spearman": math.nan}
    return {"pearson": float(stats.pearsonr(u, e).statistic), "spearman": float(stats.spearmanr(u, e).statistic)}


def uncertainty_metrics(pred: np.ndarray, gt: np.ndarray, uncertainty: np.ndarray) -> dict[str, float]:
    """All pixel-level uncertainty metrics of one instance, sharing one sort."""
    pred, gt = np.asarray(pred, bool), np.asarray(gt, bool)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in shape")
    error = pred != gt
    u, e = _flat(uncertainty, error, "mask")
    sizes, errs = _blocks(u, e)
    auroc = _auroc_of_blocks(sizes, errs)
    a = _aurc_of_blocks(sizes, errs)
    k = np.arange(1, e.size + 1)
    n_ok = e.size - errs.sum()
    best = float((np.maximum(0.0, k - n_ok) / k).mean())  # all correct pixels first
    return {"unc_auroc": auroc, "aurc": a, "e_aurc": a - best, "pavpu": pavpu(pred, gt, uncertainty)}
