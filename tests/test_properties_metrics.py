"""Property-based tests (hypothesis) of the metrics and statistics: laws that hold for every input,
on masks of any size from 1 px (thin strips, empty, full, noisy, rectangles). The hand-worked values
and the independent references live in test_metrics, test_boundary, test_ap, test_uncertainty and
test_stats; here the question is whether any input breaks a bound, a symmetry or an identity.

Examples are drawn from a fixed seed per test, so CI sees the same cases on every run; set
ROBUSTSEG_PROPERTY_SCALE=N to try N times as many."""
from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from benchmark.eval import clicker, metrics, protocols, uncertainty
from benchmark.report import stats
from benchmark.eval.ap import AP_METRICS, ImageInstances, Instance, coco_ap
from benchmark.eval.boundary import boundary_iou

SCALE = int(os.environ.get("ROBUSTSEG_PROPERTY_SCALE", "1"))
PAIR_METRICS = {"iou": metrics.iou, "dice": metrics.dice, "pixel_accuracy": metrics.pixel_accuracy,
                "boundary_iou": boundary_iou}
OVERLAP_METRICS = ("iou", "dice", "boundary_iou")  # 0 when exactly one mask is empty


def _settings(examples: int):
    return settings(max_examples=examples * SCALE, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


shapes = st.tuples(st.integers(1, 24), st.integers(1, 24))


@st.composite
def mask(draw, shape):
    """Hypothesis-built pixels (shrink well, mostly sparse or mostly full) or a rectangle."""
    h, w = shape
    if draw(st.booleans()):
        return draw(arrays(np.bool_, shape, elements=st.booleans()))
    y0, y1 = sorted(draw(st.tuples(st.integers(0, h), st.integers(0, h))))
    x0, x1 = sorted(draw(st.tuples(st.integers(0, w), st.integers(0, w))))
    m = np.zeros(shape, bool)
    m[y0:y1, x0:x1] = True
    return m


@st.composite
def masks(draw, n: int):
    shape = draw(shapes)
    return tuple(draw(mask(shape)) for _ in range(n))


# -- per-instance mask metrics ---------------------------------------------------------------------

@_settings(200)
@given(masks(2))
def test_bounds_symmetry_and_the_fast_path(pg):
    p, g = pg
    fast = metrics.instance_metrics(p, g)
    assert fast == metrics.instance_metrics(g, p)
    for name, fn in PAIR_METRICS.items():
        v = fn(p, g)
        assert 0.0 <= v <= 1.0, (name, v)
        assert v == fn(g, p), f"{name} is not symmetric"
        assert fast[name] == pytest.approx(v, abs=1e-12), name


@_settings(100)
@given(masks(1))
def test_perfect_empty_and_full_predictions(gs):
    (g,) = gs
    empty = np.zeros_like(g)
    for name, fn in PAIR_METRICS.items():
        assert fn(g, g) == 1.0, f"{name} of a perfect prediction"
        assert fn(empty, empty) == 1.0, f"{name} with both masks empty"
        assert metrics.instance_metrics(g, g)[name] == 1.0
    if g.any():
        for name in OVERLAP_METRICS:
            assert PAIR_METRICS[name](empty, g) == 0.0, f"{name} of an empty prediction"
            assert metrics.instance_metrics(empty, g)[name] == 0.0
    assert metrics.pixel_accuracy(empty, g) == pytest.approx(1 - g.mean())
    assert metrics.pixel_accuracy(~g, g) == 0.0
    assert metrics.iou(np.ones_like(g), g) == pytest.approx(g.mean() if g.any() else 0.0)


@_settings(200)
@given(masks(2))
def test_iou_dice_identities(pg):
    p, g = pg
    i, d = metrics.iou(p, g), metrics.dice(p, g)
    assert i <= d + 1e-15
    assert d == pytest.approx(2 * i / (1 + i), rel=1e-12, abs=1e-15)
    assert metrics.pixel_accuracy(~p, ~g) == metrics.pixel_accuracy(p, g)  # labels are symmetric
    if (p & ~g).sum() == 0 and g.any():  # p inside g: IoU is the recall
        assert i == pytest.approx(p.sum() / g.sum())


@_settings(150)
@given(masks(3))
def test_jaccard_distance_is_a_metric(abc):
    """1 - IoU obeys the triangle inequality (Lipkin 1958), with d(empty, empty) = 0 by our rule."""
    a, b, c = abc
    dist = lambda x, y: 1.0 - metrics.iou(x, y)  # noqa: E731
    assert dist(a, c) <= dist(a, b) + dist(b, c) + 1e-12


@_settings(150)
@given(masks(3))
def test_adding_true_positives_helps_and_false_positives_hurt(pge):
    p, g, extra = pge
    tp, fp = extra & g & ~p, extra & ~g & ~p
    more_tp, more_fp = p | tp, p | fp
    if tp.any():
        for name in ("iou", "dice", "pixel_accuracy"):
            assert PAIR_METRICS[name](more_tp, g) > PAIR_METRICS[name](p, g), f"{name} did not rise with TPs"
    if fp.any():
        assert metrics.pixel_accuracy(more_fp, g) < metrics.pixel_accuracy(p, g)
        for name in ("iou", "dice"):
            assert PAIR_METRICS[name](more_fp, g) <= PAIR_METRICS[name](p, g), f"{name} rose with FPs"


# -- mask AP ---------------------------------------------------------------------------------------

@st.composite
def ap_images(draw):
    """1-3 images of up to 3 non-empty ground-truth objects each, with a prediction per object that
    is either the object itself or another mask, with a score."""
    images = []
    for n in range(draw(st.integers(1, 3))):
        shape = draw(shapes)
        gts = [g for g in (draw(mask(shape)) for _ in range(draw(st.integers(1, 3)))) if g.any()]
        preds = [Instance(g if draw(st.booleans()) else draw(mask(shape)), score=draw(st.floats(0, 1)))
                 for g in gts]
        images.append(ImageInstances(n, *shape, gts=[Instance(g) for g in gts], preds=preds))
    assume(any(im.gts for im in images))
    return images


@_settings(40)
@given(ap_images())
def test_ap_bounds_rank_invariance_and_perfect_predictions(images):
    got = coco_ap(images)
    for k in ("AP", "AP50", "AP75"):
        assert 0.0 <= got[k] <= 1.0, (k, got[k])
    for k in ("APs", "APm", "APl"):
        assert math.isnan(got[k]) or 0.0 <= got[k] <= 1.0, (k, got[k])
    halved = [ImageInstances(im.image_id, im.height, im.width, im.gts,
                             [Instance(p.mask, score=p.score * 0.5) for p in im.preds]) for im in images]
    assert coco_ap(halved) == pytest.approx(got, nan_ok=True), "AP must depend only on the score order"
    perfect = [ImageInstances(im.image_id, im.height, im.width, im.gts,
                              [Instance(g.mask, score=0.5) for g in im.gts]) for im in images]
    best = coco_ap(perfect)
    for k in ("AP", "AP50", "AP75", "APs"):  # every object is small here (< 32^2 px)
        assert best[k] == pytest.approx(1.0, abs=1e-12), k  # pycocotools sums 101 recall points in float
    assert math.isnan(best["APm"]) and math.isnan(best["APl"])
    assert set(AP_METRICS) == set(best)


# -- uncertainty metrics ---------------------------------------------------------------------------

@st.composite
def uncertainty_cases(draw):
    """pred, gt and an uncertainty map from a few levels (ties are common, as with real models)."""
    p, g = draw(masks(2))
    levels = draw(st.lists(st.floats(0, 1, allow_subnormal=False), min_size=1, max_size=4))
    u = np.array(levels)[draw(arrays(np.int64, p.shape, elements=st.integers(0, len(levels) - 1)))]
    return p, g, u


@_settings(150)
@given(uncertainty_cases())
def test_uncertainty_bounds_and_invariances(case):
    p, g, u = case
    err = p != g
    got = uncertainty.uncertainty_metrics(p, g, u)
    auroc = got["unc_auroc"]
    if err.all() or not err.any():
        assert math.isnan(auroc)
    else:
        assert 0.0 <= auroc <= 1.0
        assert uncertainty.error_auroc(-u, err) == pytest.approx(1 - auroc, abs=1e-12)
        assert uncertainty.error_auroc(err.astype(float), err) == 1.0  # uncertainty = error is perfect
    assert 0.0 <= got["aurc"] <= 1.0
    assert -1e-12 <= got["e_aurc"] <= got["aurc"] + 1e-12
    assert uncertainty.aurc(2 * u, err) == got["aurc"]  # only the order of uncertainties matters
    assert uncertainty.e_aurc(err.astype(float), err) == pytest.approx(0.0, abs=1e-12)  # the oracle order
    assert math.isnan(got["pavpu"]) == (min(p.shape) < uncertainty.PAVPU_PATCH)
    assert math.isnan(got["pavpu"]) or 0.0 <= got["pavpu"] <= 1.0


@_settings(150)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=40))
def test_ece_and_correlation_bounds(pairs):
    conf, acc = np.array(pairs).T
    e = uncertainty.ece(conf, acc)
    assert 0.0 <= e <= 1.0
    assert uncertainty.ece(acc, acc) == pytest.approx(0.0, abs=1e-12)  # confidence = accuracy is calibrated
    for v in uncertainty.ua_correlation(conf, 1 - acc).values():
        assert math.isnan(v) or -1.0 - 1e-12 <= v <= 1.0 + 1e-12


# -- statistics ------------------------------------------------------------------------------------

pvalues = st.lists(st.floats(0, 1), min_size=1, max_size=30)


@_settings(200)
@given(pvalues, st.randoms(use_true_random=False))
def test_holm_bounds_order_and_equivariance(ps, rnd):
    p = np.array(ps)
    adj = stats.holm(p)
    m = p.size
    assert (adj >= p).all() and (adj <= 1.0).all()
    assert (adj <= np.minimum(1.0, m * p)).all(), "Holm is never more conservative than Bonferroni"
    order = np.argsort(p, kind="stable")
    assert (np.diff(adj[order]) >= 0).all(), "adjusted p-values must follow the raw order"
    assert adj[order[0]] == min(1.0, m * p[order[0]])
    perm = list(range(m))
    rnd.shuffle(perm)
    assert np.array_equal(stats.holm(p[perm]), adj[perm]), "Holm depends on the input order"


GRID = [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0]  # scores on a grid: ties and zero differences are common
# scipy's exact test with ties enumerates 2^n sign flips for up to 13 pairs (about 1 s per call at 13): skipped for time.
PAIRS = st.one_of(st.integers(1, 8), st.integers(14, 40))


@_settings(100)
@given(st.data())
def test_wilcoxon_bounds_and_swap(data):
    n = data.draw(PAIRS)
    a, b = (np.array(data.draw(st.lists(st.sampled_from(GRID), min_size=n, max_size=n))) for _ in range(2))
    t, s = stats.paired_wilcoxon(a, b), stats.paired_wilcoxon(b, a)
    assert 0.0 <= t.pvalue <= 1.0 and -1.0 <= t.effect_size <= 1.0
    assert t.n == a.size and t.n_nonzero == np.count_nonzero(a != b)
    assert 0.0 <= t.statistic <= t.n_nonzero * (t.n_nonzero + 1) / 2
    assert s.pvalue == pytest.approx(t.pvalue, rel=1e-9)
    assert s.effect_size == pytest.approx(-t.effect_size) and s.mean_diff == pytest.approx(-t.mean_diff)
    if t.n_nonzero == 0:
        assert t.pvalue == 1.0 and t.effect_size == 0.0
    greater = stats.paired_wilcoxon(a, b, alternative="greater").pvalue
    assert stats.paired_wilcoxon(b, a, alternative="less").pvalue == pytest.approx(greater, rel=1e-9)


@_settings(100)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=60), st.integers(0, 2**32 - 1))
def test_bootstrap_ci_contains_the_mean_and_is_seeded(values, seed):
    x = np.array(values)
    mean, lo, hi = stats.bootstrap_mean_ci(x, seed=seed, key="m/d/c/iou", n_resamples=500)
    assert mean == pytest.approx(x.mean())
    assert x.min() - 1e-12 <= lo <= mean + 1e-12 and mean - 1e-12 <= hi <= x.max() + 1e-12
    assert (mean, lo, hi) == stats.bootstrap_mean_ci(x, seed=seed, key="m/d/c/iou", n_resamples=500)


@_settings(60)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=30))
def test_robustness_gap_is_clear_minus_degraded_within_its_ci(pairs):
    clear, degraded = map(list, zip(*pairs))
    keys = list(range(len(pairs)))
    gap = stats.robustness_gap(keys, clear, keys[::-1], degraded[::-1], key="gap")  # matched by key, not position
    assert gap.n == len(pairs)
    assert gap.gap == pytest.approx(np.mean(clear) - np.mean(degraded), abs=1e-12)
    assert gap.ci_low - 1e-12 <= gap.gap <= gap.ci_high + 1e-12


# -- prompts and NoC (what the metrics are measured from) -----------------------------------------

@_settings(150)
@given(masks(1), st.integers(0, 2**32 - 1), st.integers(0, 10**6))
@example((np.array([[True, False]]),), 0, 0)  # found here: a 1-px-wide box's jittered sides crossed
def test_prompts_lie_on_the_object_and_boxes_are_valid(gs, seed_, object_id):
    (g,) = gs
    assume(g.any())
    h, w = g.shape
    ys, xs = np.nonzero(g)
    x0, y0, x1, y1 = protocols.tight_box(g)
    assert (x0, y0, x1, y1) == (xs.min(), ys.min(), xs.max(), ys.max())
    jx0, jy0, jx1, jy1 = box = protocols.jittered_box(g, protocols.prompt_rng(seed_, "img", object_id, "box_jitter"))
    assert 0 <= jx0 <= jx1 <= w - 1 and 0 <= jy0 <= jy1 <= h - 1, f"jittered box {box} of tight {(x0, y0, x1, y1)}"
    points = np.vstack([protocols.farthest_point(g)[None], protocols.spread_points(g, 3), protocols.centre_point(g)[None]])
    for x, y in points.astype(int):
        assert g[y, x], f"point ({x}, {y}) is off the object"
    first = clicker.next_click(g, np.zeros_like(g))
    assert first.positive and (first.x, first.y) == tuple(protocols.farthest_point(g).astype(int))


@_settings(150)
@given(st.lists(st.floats(0, 1), min_size=0, max_size=25), st.floats(0.5, 1), st.integers(1, 25))
def test_noc_is_within_budget_and_monotone_in_the_threshold(ious, t, budget):
    n = clicker.noc(ious, t, budget)
    assert 1 <= n <= budget
    assert clicker.noc(ious, t - 0.05, budget) <= n, "a lower threshold cannot need more clicks"
    reached = any(v >= t for v in ious[:budget])
    assert reached or n == budget
    assert not reached or ious[n - 1] >= t > max(ious[:n - 1], default=-1)
