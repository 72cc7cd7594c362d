"""Boundary IoU against a second, independent implementation of Cheng et al.'s published rules
(chessboard distance transform from scipy instead of OpenCV erosion), and hand-worked cases."""
import math

import numpy as np
import pytest
from scipy import ndimage

from benchmark.eval.boundary import band, boundary_iou, dilation_pixels, mask_boundary


def reference_boundary(mask: np.ndarray, ratio: float = 0.02) -> np.ndarray:
    """Mask pixels whose chessboard distance to background (outside the image = background) is <= d."""
    h, w = mask.shape
    d = max(1, int(round(ratio * math.sqrt(h * h + w * w))))
    dist = ndimage.distance_transform_cdt(np.pad(mask, 1), metric="chessboard")[1:-1, 1:-1]
    return mask & (dist <= d)


def reference_biou(p: np.ndarray, g: np.ndarray, ratio: float = 0.02) -> float:
    bp, bg = reference_boundary(p, ratio), reference_boundary(g, ratio)
    union = (bp | bg).sum()
    return 1.0 if union == 0 else (bp & bg).sum() / union


def blob(rng, h, w):
    """Random union of discs and rectangles, often cut by the image border."""
    yy, xx = np.mgrid[:h, :w]
    m = np.zeros((h, w), bool)
    for _ in range(rng.integers(1, 4)):
        cy, cx, r = rng.uniform(-0.1, 1.1) * h, rng.uniform(-0.1, 1.1) * w, rng.uniform(2, 0.5 * max(h, w))
        m |= (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    if rng.random() < 0.5:
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        m[y0:y0 + rng.integers(1, h), x0:x0 + rng.integers(1, w)] ^= True
    return m


@pytest.mark.parametrize("shape", [(37, 53), (64, 48), (120, 90), (7, 300), (300, 9)])
def test_boundary_matches_distance_transform_reference(shape):
    rng = np.random.default_rng(sum(shape))
    for ratio in (0.02, 0.05, 0.001):
        for _ in range(8):
            m = blob(rng, *shape)
            assert np.array_equal(mask_boundary(m, ratio), reference_boundary(m, ratio))


def test_boundary_iou_matches_reference_on_random_pairs():
    rng = np.random.default_rng(0)
    for _ in range(60):
        h, w = rng.integers(5, 90, size=2)
        p, g = blob(rng, h, w), blob(rng, h, w)
        assert boundary_iou(p, g) == pytest.approx(reference_biou(p, g), abs=1e-12)


def test_dilation_rounds_like_the_official_api():
    assert dilation_pixels((768, 1024)) == 26  # 0.02 * 1280 = 25.6
    assert dilation_pixels((75, 100)) == 2  # 0.02 * 125 = 2.5 rounds half to even
    assert dilation_pixels((10, 10)) == 1  # 0.28 rounds to 0, floored at 1
    assert dilation_pixels((1000, 1000), 0.0) == 1


def test_hand_worked_square_and_shift():
    g = np.zeros((20, 20), bool)
    g[5:15, 5:15] = True  # d = 1 on a 20x20 image: the band is the 36-pixel outer ring
    ring = g.copy()
    ring[6:14, 6:14] = False
    assert np.array_equal(mask_boundary(g), ring)
    p = np.roll(g, 1, axis=1)  # shifted right by one column
    # rings share the top and bottom rows at columns 6..14: 18 pixels; union 36 + 36 - 18
    assert boundary_iou(p, g) == pytest.approx(18 / 54)


def test_image_border_counts_as_boundary():
    full = np.ones((20, 20), bool)
    b = mask_boundary(full)  # d = 1: only the outermost ring of the image
    assert b.sum() == 20 * 4 - 4 and not b[1:-1, 1:-1].any()


def test_empty_mask_rules():
    e = np.zeros((10, 12), bool)
    m = e.copy()
    m[2:5, 3:7] = True
    assert boundary_iou(e, e) == 1.0
    assert boundary_iou(m, e) == 0.0 and boundary_iou(e, m) == 0.0
    assert not band(e, 3).any()


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="differ in shape"):
        boundary_iou(np.zeros((3, 4), bool), np.zeros((4, 3), bool))
