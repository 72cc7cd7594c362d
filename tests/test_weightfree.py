"""The weight-free baselines' stated rules: colour-separability confidence, and GrabCut's fallback to the
prompt box when its mask is empty or degenerate."""
import numpy as np
import pytest

from baselines.contract import Prompts
from baselines.weightfree import BoxBaseline, GrabCutBaseline, separability


def _scene():
    img = np.zeros((64, 80, 3), np.uint8)
    img[...] = (20, 40, 200)
    img[20:40, 30:50] = (220, 30, 30)
    return img


def test_separability_by_rule():
    img = _scene()
    obj = np.zeros(img.shape[:2], bool)
    obj[20:40, 30:50] = True
    assert separability(img, obj) == pytest.approx(1.0)  # disjoint colour histograms
    assert separability(np.full_like(img, 90), obj) == pytest.approx(0.0, abs=1e-6)  # identical histograms
    assert separability(img, np.zeros_like(obj)) == 0.0  # empty mask
    assert separability(img, np.ones_like(obj)) == 0.0  # no ring around it
    half = np.zeros_like(obj)
    half[20:40, 20:40] = True  # half object, half background: in between
    assert 0.0 < separability(img, half) < 1.0


def test_scores_rank_good_masks_above_bad_ones():
    img = _scene()
    box = BoxBaseline()
    box.set_image(img)
    p = box.predict(Prompts(boxes=np.array([[30, 20, 49, 39], [0, 0, 40, 30]], np.float32)))
    assert p.scores.shape == (2, 1) and p.scores[0, 0] > p.scores[1, 0]


def test_grabcut_falls_back_to_the_box_when_degenerate():
    g = GrabCutBaseline()
    img = _scene()
    box = np.array([30, 20, 49, 39], np.float32)
    filled = np.zeros(img.shape[:2], bool)
    filled[20:40, 30:50] = True
    empty = np.zeros_like(filled)
    assert np.array_equal(g._with_fallback(img, box, empty, False), filled)
    sliver = empty.copy()
    sliver[20:21, 30:50] = True  # 20 of 400 box pixels: under 10%
    assert np.array_equal(g._with_fallback(img, box, sliver, False), filled)
    assert np.array_equal(g._with_fallback(img, box, filled & ~sliver, True), filled)  # whole ROI: no background
    part = filled.copy()
    part[20:30] = False  # half the box: kept as GrabCut's
    assert np.array_equal(g._with_fallback(img, box, part, False), part)
    flat = np.full_like(img, 128)  # nothing to separate: GrabCut cannot find the object
    g.set_image(flat)
    pred = g.predict(Prompts(boxes=box[None]))
    assert pred.masks[0, 0].sum() >= 0.1 * filled.sum()


def test_grabcut_point_fallback_only_when_empty_or_missing_the_clicks():
    g = GrabCutBaseline()
    img = _scene()
    box = np.array([25, 15, 55, 45], np.float32)
    pts = (np.array([[40.0, 30.0]], np.float32), np.array([1]))
    filled = np.zeros(img.shape[:2], bool)
    filled[15:46, 25:56] = True
    big = np.zeros_like(filled)
    big[5:60, 10:70] = True  # larger than the points' box, and holds the click: kept
    assert np.array_equal(g._points_fallback(img, box, big, pts), big)
    elsewhere = np.zeros_like(filled)
    elsewhere[0:5, 0:5] = True  # misses the click
    assert np.array_equal(g._points_fallback(img, box, elsewhere, pts), filled)
    assert np.array_equal(g._points_fallback(img, box, np.zeros_like(filled), pts), filled)
