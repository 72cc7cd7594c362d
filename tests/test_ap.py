"""Mask AP through our adapter against pycocotools' own file-based evaluation, plus a hand-worked case."""
import contextlib
import io
import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from benchmark.eval.ap import AP_METRICS, ImageInstances, Instance, coco_ap
from benchmark.schema import encode_rle


def random_images(rng, n_images=6):
    images = []
    for i in range(n_images):
        h, w = rng.integers(60, 200, size=2)
        im = ImageInstances(image_id=f"img{i}", height=int(h), width=int(w))
        yy, xx = np.mgrid[:h, :w]
        for j in range(rng.integers(1, 6)):
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
            r = rng.choice([3, 12, 40, 70])  # spans the small / medium / large buckets
            g = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
            if not g.any():
                continue
            cat = int(rng.integers(1, 4))
            im.gts.append(Instance(g, category=cat, iscrowd=bool(rng.random() < 0.1)))
            shift = rng.normal(0, r * 0.3, size=2)
            p = (yy - cy - shift[0]) ** 2 + (xx - cx - shift[1]) ** 2 <= (r * rng.uniform(0.7, 1.3)) ** 2
            im.preds.append(Instance(p, category=cat, score=float(rng.random())))
        if rng.random() < 0.5:  # an unmatched false positive
            im.preds.append(Instance(((yy - 5) ** 2 + (xx - 5) ** 2) <= 16, category=1, score=float(rng.random())))
        images.append(im)
    return images


def reference_stats(images, tmp_path):
    """pycocotools' documented path: a GT json file, a results json file, COCO / loadRes / COCOeval."""
    gt = {"images": [], "annotations": [], "categories": [{"id": c} for c in (1, 2, 3)]}
    res = []
    for n, im in enumerate(images, start=1):
        gt["images"].append({"id": n, "height": im.height, "width": im.width})
        for g in im.gts:
            rle = encode_rle(g.mask)
            gt["annotations"].append({"id": len(gt["annotations"]) + 1, "image_id": n, "category_id": g.category,
                                      "segmentation": rle, "area": int(g.mask.sum()), "iscrowd": int(g.iscrowd),
                                      "bbox": mask_utils.toBbox(mask_utils.encode(np.asfortranarray(g.mask.astype(np.uint8)))).tolist()})
        for p in im.preds:
            res.append({"image_id": n, "category_id": p.category, "segmentation": encode_rle(p.mask), "score": p.score})
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(res))
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(tmp_path / "gt.json"))
        ev = COCOeval(coco, coco.loadRes(str(tmp_path / "res.json")), "segm")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats[:6]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_pycocotools_file_based_evaluation(seed, tmp_path):
    images = random_images(np.random.default_rng(seed))
    ours = coco_ap(images)
    ref = reference_stats(images, tmp_path)
    for k, v in zip(AP_METRICS, ref):
        assert (np.isnan(ours[k]) and v == -1) or ours[k] == pytest.approx(v, abs=1e-12), k


def test_hand_worked_two_instances():
    """Two 10x10 objects; predictions are subsets covering 82 and 62 pixels (IoU 0.82 and 0.62), the
    better one scored higher. At IoU thresholds .50-.60 both match (AP 1); at .65-.80 only the first
    (precision 1 up to recall 0.5, then 0: 51 of COCO's 101 recall points); at .85-.95 none."""
    h, w = 40, 40
    g1, g2 = np.zeros((h, w), bool), np.zeros((h, w), bool)
    g1[0:10, 0:10] = True
    g2[20:30, 20:30] = True
    p1, p2 = g1.copy(), g2.copy()
    p1.flat[np.flatnonzero(g1)[82:]] = False
    p2.flat[np.flatnonzero(g2)[62:]] = False
    im = ImageInstances("a", h, w, gts=[Instance(g1), Instance(g2)],
                        preds=[Instance(p1, score=0.9), Instance(p2, score=0.8)])
    got = coco_ap([im])
    assert got["AP"] == pytest.approx((3 * 1 + 4 * 51 / 101) / 10)
    assert got["AP50"] == pytest.approx(1.0) and got["AP75"] == pytest.approx(51 / 101)
    assert got["APs"] == pytest.approx(got["AP"]) and np.isnan(got["APm"]) and np.isnan(got["APl"])


def test_rle_input_errors_and_no_predictions():
    g = np.zeros((8, 9), bool)
    g[2:5, 2:5] = True
    perfect = coco_ap([ImageInstances(1, 8, 9, [Instance(encode_rle(g))], [Instance(encode_rle(g), score=0.3)])])
    assert perfect["AP"] == pytest.approx(1.0)
    assert coco_ap([ImageInstances(1, 8, 9, [Instance(g)], [])])["AP"] == 0.0
    with pytest.raises(ValueError, match="image 7 prediction 0: mask shape"):
        coco_ap([ImageInstances(7, 8, 9, [Instance(g)], [Instance(g[:4])])])
    with pytest.raises(ValueError, match="not finite"):
        coco_ap([ImageInstances(7, 8, 9, [Instance(g)], [Instance(g, score=float("nan"))])])
