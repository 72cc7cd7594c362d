import numpy as np
import pytest

from benchmark.data.sources import UnknownSourceError, create_source
from benchmark.data.sources.synthetic import SyntheticSource


def test_deterministic_by_seed():
    a, b = SyntheticSource(num_images=3, seed=5), SyntheticSource(num_images=3, seed=5)
    for i in range(3):
        sa, sb = a[i], b[i]
        assert sa.image_id == sb.image_id
        assert np.array_equal(sa.image, sb.image)
        assert np.array_equal(sa.masks, sb.masks)
    assert not np.array_equal(SyntheticSource(num_images=1, seed=6)[0].image, a[0].image)


def test_scene_statistics():
    src = SyntheticSource(num_images=60, width=320, height=240)
    counts, areas, holes, thin = [], [], 0, 0
    import cv2

    for i in range(len(src)):
        s = src[i]
        assert s.image.dtype == np.uint8 and s.image.shape == (240, 320, 3)
        counts.append(len(s.objects))
        masks = s.masks
        assert (masks.sum(0) <= 1).all(), "occlusion must leave instance masks disjoint"
        for o in s.objects:
            m = o.mask.astype(np.uint8)
            areas.append(int(m.sum()))
            n_cc, _ = cv2.connectedComponents(1 - m, connectivity=4)
            holes += n_cc > 2  # background plus at least one enclosed hole
            opened = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
            thin += (m.sum() - opened.sum()) > 0.2 * m.sum()
    assert 1 <= min(counts) and max(counts) <= 8 and len(set(counts)) >= 5
    areas = np.array(areas)
    assert (areas < 32 ** 2).sum() > 10 and ((areas >= 32 ** 2) & (areas < 96 ** 2)).sum() > 10 and (areas >= 96 ** 2).sum() > 3
    assert holes > 5 and thin > 5


def test_texture_is_not_flat():
    s = SyntheticSource(num_images=1)[0]
    background = ~s.masks.any(0)
    assert s.image[background].std(axis=0).min() > 3


def test_unknown_source_lists_valid_names():
    with pytest.raises(UnknownSourceError, match="valid names: .*synthetic"):
        create_source("nope")
