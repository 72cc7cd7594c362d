"""Uncertainty metrics: AUROC against scikit-learn, AURC against a direct loop over coverages and
over tie orders, PAvPU / ECE / correlation by hand and against scipy."""
import itertools

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from benchmark.eval.uncertainty import aurc, e_aurc, ece, error_auroc, pavpu, ua_correlation, uncertainty_metrics


def test_auroc_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(20):
        u = np.round(rng.random((17, 23)), 1)  # few distinct values: many ties
        err = rng.random((17, 23)) < (0.2 + 0.6 * u)
        assert error_auroc(u, err) == pytest.approx(roc_auc_score(err.ravel(), u.ravel()), abs=1e-12)
    assert error_auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    assert np.isnan(error_auroc([0.1, 0.2], [0, 0]))


def loop_aurc(u, r):
    """Selective risk at every coverage for one fixed order (most certain first), averaged."""
    order = np.argsort(u, kind="stable")
    return np.mean([np.mean(np.asarray(r)[order[:k]]) for k in range(1, len(u) + 1)])


def test_aurc_hand_worked_and_against_a_loop():
    # order 0, 1, 0 -> risks 0, 1/2, 1/3; oracle order 0, 0, 1 -> 0, 0, 1/3
    assert aurc([0.1, 0.2, 0.3], [0, 1, 0]) == pytest.approx((0 + 1 / 2 + 1 / 3) / 3)
    assert e_aurc([0.1, 0.2, 0.3], [0, 1, 0]) == pytest.approx((1 / 2) / 3)
    rng = np.random.default_rng(1)
    u, r = rng.random(200), rng.random(200)  # continuous risk (1 - IoU per mask), no ties
    assert aurc(u, r) == pytest.approx(loop_aurc(u, r))
    assert e_aurc(r, r) == pytest.approx(0.0, abs=1e-12)  # ranking by the risk itself is optimal


def test_aurc_ties_are_the_average_over_orders():
    u = np.array([0.2, 0.5, 0.5, 0.5, 0.9])
    r = np.array([0.0, 1.0, 0.0, 1.0, 1.0])
    orders = [np.r_[0, 1 + np.array(p), 4] for p in itertools.permutations(range(3))]
    expected = np.mean([np.mean([r[o[:k]].mean() for k in range(1, 6)]) for o in orders])
    assert aurc(u, r) == pytest.approx(expected)
    assert aurc(np.full(2, 0.5), [1, 0]) == pytest.approx(0.5)


def test_pavpu_hand_worked_quadrants():
    gt = np.zeros((8, 8), bool)
    pred = gt.copy()
    pred[4:, :] = True  # bottom patches wrong, top patches right
    u = np.zeros((8, 8))
    u[:4, 4:] = 0.9  # top-right uncertain while accurate
    u[4:, :4] = 0.9  # bottom-left uncertain while inaccurate; bottom-right certain while inaccurate
    assert pavpu(pred, gt, u) == pytest.approx(2 / 4)
    assert pavpu(pred, gt, u, uncertainty_threshold=1.0) == pytest.approx(2 / 4)  # all certain now
    # 9x9: the last row and column are dropped; every 4x4 patch is accurate but uncertain
    assert pavpu(np.zeros((9, 9), bool), np.zeros((9, 9), bool), np.ones((9, 9))) == 0.0
    assert np.isnan(pavpu(np.zeros((3, 3), bool), np.zeros((3, 3), bool), np.zeros((3, 3))))


def test_ece_hand_worked_and_bin_edges():
    # 0.95 falls in (14/15, 1]: |0.95 - 0.5|; 0.55 in (8/15, 9/15]: |0.55 - 1|; each half the items
    assert ece([0.95, 0.95, 0.55, 0.55], [1, 0, 1, 1]) == pytest.approx(0.45)
    # 0.2 is an upper edge with 5 bins: it shares (0, 0.2] with 0.1, not (0.2, 0.4] with 0.3
    assert ece([0.1, 0.2, 0.3], [0.2, 0.1, 0.3], n_bins=5) == pytest.approx(0.0)
    assert ece([0.0, 1.0], [0.0, 1.0]) == 0.0
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ece([1.2], [1.0])


def test_ua_correlation_against_scipy():
    rng = np.random.default_rng(2)
    u = rng.random(50)
    e = 0.5 * u + 0.2 * rng.random(50)
    got = ua_correlation(u, e)
    assert got["pearson"] == pytest.approx(stats.pearsonr(u, e)[0])
    assert got["spearman"] == pytest.approx(stats.spearmanr(u, e)[0])
    assert np.isnan(ua_correlation([0.1, 0.2], [0.3, 0.4])["pearson"])


def test_uncertainty_metrics_bundle_matches_the_single_functions():
    rng = np.random.default_rng(3)
    gt = np.zeros((32, 40), bool)
    gt[8:24, 10:30] = True
    pred = np.roll(gt, 3, axis=1)
    u = np.clip((pred != gt) * 0.6 + rng.random(gt.shape) * 0.5, 0, 1)
    got = uncertainty_metrics(pred, gt, u)
    err = pred != gt
    assert got["unc_auroc"] == pytest.approx(roc_auc_score(err.ravel(), u.ravel()))
    assert got["aurc"] == pytest.approx(aurc(u, err)) and got["e_aurc"] == pytest.approx(e_aurc(u, err))
    assert got["pavpu"] == pavpu(pred, gt, u)
    with pytest.raises(ValueError, match="NaN"):
        uncertainty_metrics(pred, gt, np.full(gt.shape, np.nan))
