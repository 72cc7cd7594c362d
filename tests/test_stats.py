"""Statistics: against scipy directly and against hand-worked cases."""
import numpy as np
import pytest
from scipy import stats

from benchmark.report.stats import (across_datasets, bootstrap_mean_ci, holm, holm_family, match_pairs, paired_wilcoxon,
                             rank_biserial, robustness_gap)


def test_wilcoxon_hand_worked_exact():
    """d = (1, 2, 3, -4): R+ = 6, R- = 4, statistic min = 4. Under H0 the 16 sign patterns give
    P(R+ <= 4) = 7/16, so the exact two-sided p is 7/8; rank-biserial (6 - 4) / 10 = 0.2."""
    a, b = [1.0, 2.0, 3.0, 0.0], [0.0, 0.0, 0.0, 4.0]
    t = paired_wilcoxon(a, b)
    assert t.statistic == 4 and t.pvalue == pytest.approx(7 / 8) and t.effect_size == pytest.approx(0.2)
    assert t.n == 4 and t.n_nonzero == 4 and t.mean_diff == pytest.approx(0.5)


def test_wilcoxon_matches_scipy_on_random_pairs():
    rng = np.random.default_rng(0)
    for n in (8, 30, 200):
        a = rng.random(n)
        b = np.clip(a - rng.normal(0.02, 0.05, n), 0, 1)
        b[:2] = a[:2]  # zero differences are dropped
        t = paired_wilcoxon(a, b, alternative="greater")
        ref = stats.wilcoxon(a, b, zero_method="wilcox", alternative="greater")
        assert t.statistic == pytest.approx(ref.statistic) and t.pvalue == pytest.approx(ref.pvalue)
        assert t.n_nonzero == n - 2


def test_all_zero_differences_and_bad_input():
    t = paired_wilcoxon([0.5, 0.7], [0.5, 0.7])
    assert t.pvalue == 1.0 and t.effect_size == 0.0
    with pytest.raises(ValueError, match="equal in length"):
        paired_wilcoxon([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        paired_wilcoxon([1.0, np.nan], [1.0, 2.0])


def test_rank_biserial_extremes_and_ties():
    assert rank_biserial([2, 3, 4], [1, 1, 1]) == 1.0 and rank_biserial([1, 1], [2, 3]) == -1.0
    # |d| = 1, 1, 2 -> ranks 1.5, 1.5, 3; signs +, -, + -> (4.5 - 1.5) / 6
    assert rank_biserial([1, 0, 2], [0, 1, 0]) == pytest.approx(0.5)


def test_match_pairs_joins_on_keys_and_rejects_duplicates():
    a, b, keys = match_pairs([("i", 1), ("i", 2), ("j", 1)], [0.1, 0.2, 0.3], [("j", 1), ("i", 1)], [0.9, 0.8])
    assert keys == [("i", 1), ("j", 1)] and a.tolist() == [0.1, 0.3] and b.tolist() == [0.8, 0.9]
    with pytest.raises(ValueError, match="occurs more than once"):
        match_pairs([1, 1], [0.1, 0.2], [1], [0.3], where="coco/clear")


def test_across_datasets_pairs_by_name():
    a = {"coco": 0.8, "lvis": 0.7, "ndd20": 0.9, "streets": 0.6, "fss": 0.75, "bdd": 0.5}
    b = {"lvis": 0.65, "coco": 0.78, "streets": 0.61, "ndd20": 0.85, "fss": 0.7, "bdd": 0.45, "extra": 0.1}
    t = across_datasets(a, b)
    ref = stats.wilcoxon([0.8, 0.7, 0.9, 0.6, 0.75, 0.5], [0.78, 0.65, 0.85, 0.61, 0.7, 0.45])
    assert t.n == 6 and t.pvalue == pytest.approx(ref.pvalue) and t.statistic == pytest.approx(ref.statistic)


def test_holm_hand_worked():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> monotone 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]).tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]).tolist() == [1.0, 1.0]
    fam = holm_family([paired_wilcoxon([1.0, 2, 3, 0], [0.0, 0, 0, 4])] * 2)
    assert [t.p_holm for t in fam] == [1.0, 1.0]


def test_bootstrap_ci_seeded_and_sane():
    rng = np.random.default_rng(5)
    x = rng.normal(0.7, 0.1, 400)
    m, lo, hi = bootstrap_mean_ci(x, seed=1, key="m/d/clear/iou")
    assert (m, lo, hi) == bootstrap_mean_ci(x, seed=1, key="m/d/clear/iou")
    assert bootstrap_mean_ci(x, seed=1, key="other") != (m, lo, hi)
    assert lo < m < hi
    half = 1.96 * x.std(ddof=1) / np.sqrt(x.size)  # the normal-theory half width, for scale
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.15)
    ref = stats.bootstrap((x,), np.mean, n_resamples=2000, method="percentile", rng=np.random.default_rng(0))
    assert lo == pytest.approx(ref.confidence_interval.low, abs=0.004)
    assert hi == pytest.approx(ref.confidence_interval.high, abs=0.004)
    assert bootstrap_mean_ci([0.4] * 5) == pytest.approx((0.4, 0.4, 0.4))
    assert all(np.isnan(bootstrap_mean_ci([])))


def test_robustness_gap_on_matched_instances():
    g = robustness_gap(["a", "b", "c"], [0.9, 0.8, 0.7], ["c", "a", "z"], [0.5, 0.6, 0.0], key="gap")
    assert g.n == 2 and g.clear == pytest.approx(0.8) and g.degraded == pytest.approx(0.55)
    assert g.gap == pytest.approx(0.25)
    assert (g.ci_low, g.ci_high) == pytest.approx((0.2, 0.3))  # per-instance gaps are 0.3 and 0.2
