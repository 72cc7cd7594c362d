"""Prompt protocols: hand-worked placements, an independent check of the farthest point (scipy's
exact Euclidean distance transform), seeded jitter, and clear errors."""
import numpy as np
import pytest
from scipy import ndimage

from baselines.contract import Prompts
from benchmark.eval.protocols import (PROTOCOLS, centre_point, farthest_point, jittered_box, prompt_rng, spread_points,
                                 tight_box)


def test_tight_box_is_inclusive_pixel_indices():
    m = np.zeros((10, 12), bool)
    m[2:5, 3:9] = True
    assert tight_box(m).tolist() == [3, 2, 8, 4]


def test_farthest_point_hand_worked():
    m = np.zeros((10, 10), bool)
    m[2:7, 3:8] = True
    assert farthest_point(m).tolist() == [5, 4]
    band = np.zeros((10, 10), bool)
    band[0:4, :] = True  # touches the top, left and right image borders: they count as boundary
    assert farthest_point(band).tolist() == [1, 1]  # distance 2; first of the ties in row-major order


def test_farthest_point_matches_scipy_edt():
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:50, :70]
    for _ in range(30):
        m = np.zeros((50, 70), bool)
        for _ in range(3):
            cy, cx, r = rng.uniform(-10, 60), rng.uniform(-10, 80), rng.uniform(3, 30)
            m |= (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        if not m.any():
            continue
        dist = ndimage.distance_transform_edt(np.pad(m, 1))[1:-1, 1:-1]
        x, y = farthest_point(m).astype(int)
        assert m[y, x] and dist[y, x] == pytest.approx(dist.max(), abs=1e-4)


def test_spread_points_on_a_bar():
    m = np.zeros((5, 21), bool)
    m[1:4, :] = True  # the middle row (y = 2) is at distance 2 from top/bottom, columns 1..19
    pts = spread_points(m, 3)
    assert pts.tolist() == [[1, 2], [19, 2], [10, 2]]
    assert spread_points(m, 1).tolist() == [farthest_point(m).tolist()]


def test_spread_points_inside_distinct_and_repeated_when_mask_is_tiny():
    m = np.zeros((30, 30), bool)
    m[5:20, 8:25] = True
    pts = spread_points(m, 5).astype(int)
    assert all(m[y, x] for x, y in pts) and len({tuple(p) for p in pts}) == 5
    two = np.zeros((8, 8), bool)
    two[3, 3:5] = True
    assert spread_points(two, 5).tolist() == [[3, 3], [4, 3], [4, 3], [4, 3], [4, 3]]


def test_centre_point_and_fallback_for_rings():
    yy, xx = np.mgrid[:21, :21]
    disc = (yy - 10) ** 2 + (xx - 12) ** 2 <= 16
    assert centre_point(disc).tolist() == [12, 10]
    r2 = (yy - 10) ** 2 + (xx - 10) ** 2
    ring = (r2 >= 25) & (r2 <= 64)  # the centroid (10, 10) is a hole: nearest ring pixels are at 5
    assert centre_point(ring).tolist() == [10, 5]


def test_box_jitter_is_seeded_bounded_and_clipped():
    m = np.zeros((40, 60), bool)
    m[10:30, 20:40] = True  # a 20x20 box: each side moves by at most 2 px
    tb = tight_box(m)
    a = jittered_box(m, prompt_rng(0, "img1", 7, "box_jitter"))
    b = jittered_box(m, prompt_rng(0, "img1", 7, "box_jitter"))
    c = jittered_box(m, prompt_rng(0, "img1", 8, "box_jitter"))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.abs(a - tb).max() <= 2.0 and not np.array_equal(a, tb)
    edge = np.zeros((40, 60), bool)
    edge[0:40, 0:60] = True
    for o in range(20):
        j = jittered_box(edge, prompt_rng(1, "x", o, "box_jitter"))
        assert j.min() >= 0 and j[2] <= 59 and j[3] <= 39 and j[0] <= j[2] and j[1] <= j[3]


@pytest.mark.parametrize("name,kind,n", [("box", "box", 1), ("box_jitter", "box", 1), ("point", "pt", 1),
                                         ("point3", "pt", 3), ("point5", "pt", 5), ("centre", "pt", 1)])
def test_every_protocol_gives_one_prompt_per_mask(name, kind, n):
    masks = []
    for k in range(3):
        m = np.zeros((32, 48), bool)
        m[2 + 5 * k:12 + 5 * k, 4 + 10 * k:20 + 10 * k] = True
        masks.append(m)
    p = PROTOCOLS[name](masks, seed=0, image_id="im", object_ids=[5, 6, 7])
    assert isinstance(p, Prompts) and len(p) == 3
    if kind == "box":
        assert p.boxes.shape == (3, 4) and p.boxes.dtype == np.float32 and p.points is None
    else:
        assert p.points.shape == (3, n, 2) and p.point_labels.shape == (3, n) and (p.point_labels == 1).all()
        for m, pts in zip(masks, p.points.astype(int)):
            assert all(m[y, x] for x, y in pts)


def test_empty_mask_is_a_clear_error():
    with pytest.raises(ValueError, match="empty"):
        PROTOCOLS["point"]([np.zeros((4, 4), bool)])
    with pytest.raises(ValueError, match="empty"):
        tight_box(np.zeros((4, 4), bool))


def test_exact_distance_equals_scipy_bit_for_bit():
    """Ties between equally distant pixels must not depend on float noise: the distances equal scipy's
    exact EDT (sqrt of integer squared distances) bit for bit, on masks with many ties."""
    from scipy.ndimage import distance_transform_edt

    from benchmark.eval.protocols import exact_distance

    rng = np.random.default_rng(3)
    for _ in range(20):
        h, w = rng.integers(20, 120, 2)
        m = np.zeros((h, w), np.uint8)
        y0, x0 = rng.integers(0, h // 2), rng.integers(0, w // 2)
        m[y0:y0 + rng.integers(3, h // 2 + 3), x0:x0 + rng.integers(3, w // 2 + 3)] = 1
        m[rng.random((h, w)) < 0.02] = 0
        padded = np.pad(m, 1)
        assert np.array_equal(exact_distance(padded), distance_transform_edt(padded))
