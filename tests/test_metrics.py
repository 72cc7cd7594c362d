"""Per-instance metrics: hand-worked cases, empty-mask rules, and the fast path against the
separate definitions (which the boundary tests check against an independent implementation)."""
import numpy as np
import pytest

from benchmark.eval import metrics
from benchmark.eval.boundary import boundary_iou
from benchmark.eval.metrics import instance_metrics


def test_hand_worked_squares():
    g = np.zeros((10, 10), bool)
    g[0:4, 0:4] = True  # 16 px
    p = np.zeros((10, 10), bool)
    p[2:6, 2:6] = True  # 16 px, overlap 2x2 = 4
    assert metrics.iou(p, g) == pytest.approx(4 / 28)
    assert metrics.dice(p, g) == pytest.approx(8 / 32)
    assert metrics.pixel_accuracy(p, g) == pytest.approx(1 - 24 / 100)
    got = instance_metrics(p, g)
    assert got["iou"] == pytest.approx(4 / 28) and got["dice"] == pytest.approx(0.25)
    assert got["pixel_accuracy"] == pytest.approx(0.76)


def test_empty_rules():
    e = np.zeros((6, 7), bool)
    m = e.copy()
    m[1:3, 1:3] = True
    assert instance_metrics(e, e) == {"iou": 1.0, "dice": 1.0, "pixel_accuracy": 1.0, "boundary_iou": 1.0}
    one = instance_metrics(m, e)
    assert one["iou"] == 0.0 and one["dice"] == 0.0 and one["boundary_iou"] == 0.0
    assert one["pixel_accuracy"] == pytest.approx(1 - 4 / 42)
    assert instance_metrics(e, m) == one


def test_fast_path_equals_separate_definitions():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:61, :83]
    for _ in range(40):
        def disc():
            cy, cx, r = rng.uniform(-5, 66), rng.uniform(-5, 88), rng.uniform(1, 40)
            return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        p, g = disc(), disc() | (rng.random((61, 83)) < 0.01)
        got = instance_metrics(p, g, dilation_ratio=0.03)
        assert got["iou"] == pytest.approx(metrics.iou(p, g))
        assert got["dice"] == pytest.approx(metrics.dice(p, g))
        assert got["pixel_accuracy"] == pytest.approx(metrics.pixel_accuracy(p, g))
        assert got["boundary_iou"] == pytest.approx(boundary_iou(p, g, 0.03))


def test_accepts_0_1_integer_masks_and_rejects_bad_shapes():
    g = np.zeros((5, 5), np.uint8)
    g[1:4, 1:4] = 1
    assert instance_metrics(g, g)["iou"] == 1.0
    with pytest.raises(ValueError, match="differ in shape"):
        instance_metrics(np.zeros((5, 5), bool), np.zeros((5, 6), bool))
    with pytest.raises(ValueError, match=r"\(H, W\) mask"):
        instance_metrics(np.zeros((1, 5, 5), bool), np.zeros((1, 5, 5), bool))
