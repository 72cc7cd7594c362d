"""Semantic metrics against references written here: a plain per-class numpy loop for the confusion
matrix and mmseg's formulas for IoU/Acc, on random label maps and on the real Cityscapes frame; and the
semantic leaderboard cells equal to the same reference on the summed matrix."""
import numpy as np
import pandas as pd
import pytest

from benchmark.eval.confusion import class_accuracy, class_iou, confusion_matrix, semantic_scores, subset_miou
from benchmark.report.semantic import semantic_cells, semantic_tests


def reference(gts, preds, c, ignore=255):
    """Per-class intersection/union counts with boolean masks, accumulated over images."""
    inter, union, gt_area = np.zeros(c), np.zeros(c), np.zeros(c)
    correct = total = 0
    for g, p in zip(gts, preds):
        v = g != ignore
        for k in range(c):
            inter[k] += np.sum((g == k) & (p == k) & v)
            union[k] += np.sum(((g == k) | (p == k)) & v)
            gt_area[k] += np.sum(g == k)
        correct += np.sum((g == p) & v)
        total += v.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        iou, acc = inter / union, inter / gt_area
    return iou, acc, {"miou": np.nanmean(iou), "macc": np.nanmean(acc), "aacc": correct / total}


def random_maps(rng, n, c, shape=(23, 31)):
    gts = [np.where(rng.random(shape) < 0.1, 255, rng.integers(0, c, shape)).astype(np.uint8) for _ in range(n)]
    preds = [np.where(rng.random(shape) < 0.6, g, rng.integers(0, c, shape)).astype(np.uint8) % c for g in gts]
    return gts, preds


@pytest.mark.parametrize("seed", range(5))
def test_confusion_metrics_equal_the_reference_on_random_maps(seed):
    rng = np.random.default_rng(seed)
    c = int(rng.integers(2, 20))
    gts, preds = random_maps(rng, 4, c)
    cm = sum(confusion_matrix(g, p, c) for g, p in zip(gts, preds))
    iou, acc, scores = reference(gts, preds, c)
    np.testing.assert_allclose(class_iou(cm), iou, equal_nan=True)
    np.testing.assert_allclose(class_accuracy(cm), acc, equal_nan=True)
    for k, v in semantic_scores(cm).items():
        assert v == pytest.approx(scores[k])


def test_confusion_metrics_on_the_real_cityscapes_frame(shared_data):
    import cv2

    root = shared_data / "adverse/cityscapes/gtFine/val/frankfurt"
    gt = cv2.imread(str(next(root.glob("*_labelTrainIds.png"))), cv2.IMREAD_UNCHANGED)
    rng = np.random.default_rng(0)
    pred = np.where(rng.random(gt.shape) < 0.7, gt, rng.integers(0, 19, gt.shape)).astype(np.uint8)
    pred[pred == 255] = 0
    cm = confusion_matrix(gt, pred, 19)
    iou, acc, scores = reference([gt], [pred], 19)
    np.testing.assert_allclose(class_iou(cm), iou, equal_nan=True)
    assert semantic_scores(cm)["miou"] == pytest.approx(scores["miou"])
    assert cm.sum() == np.sum(gt != 255)
    perfect = semantic_scores(confusion_matrix(gt, np.where(gt == 255, 0, gt).astype(np.uint8), 19))
    assert perfect == {"miou": 1.0, "macc": 1.0, "aacc": 1.0}


def test_out_of_range_prediction_is_refused():
    with pytest.raises(ValueError, match="outside 0..2"):
        confusion_matrix(np.zeros((2, 2), np.uint8), np.full((2, 2), 3, np.uint8), 3)


def _frame(rng, models, n=12, c=5):
    rows = []
    gts, _ = random_maps(rng, n, c)
    for m, noise in models.items():
        for i, g in enumerate(gts):
            p = np.where(rng.random(g.shape) < noise, rng.integers(0, c, g.shape), g).astype(np.uint8) % c
            cm = confusion_matrix(g, p, c)
            rows.append({"dataset": "d", "model": m, "condition": "clear", "severity": 0, "image_id": f"im{i}",
                         "num_classes": c, "confusion": cm.ravel().tolist(), **semantic_scores(cm), "gt_map": g, "pred_map": p})
    return pd.DataFrame(rows)


def test_cells_sum_confusions_over_images_and_tests_pair_images():
    df = _frame(np.random.default_rng(3), {"good": 0.1, "bad": 0.6})
    cells = {c.model: c for c in semantic_cells(df)}
    for m, cell in cells.items():
        g = df[df.model == m]
        _, _, ref = reference(list(g.gt_map), list(g.pred_map), 5)
        assert cell.values["mIoU"] == pytest.approx(100 * ref["miou"])
        assert cell.values["aAcc"] == pytest.approx(100 * ref["aacc"])
        lo, hi = cell.ci["mIoU"]
        assert lo <= cell.values["mIoU"] <= hi and cell.images == 12
    assert cells["good"].values["mIoU"] > cells["bad"].values["mIoU"]
    (t,) = semantic_tests(df)
    assert t.test.n == 12 and t.test.pvalue < 0.01 and t.model_a == "bad"


def test_subset_miou_takes_the_named_classes_ious_from_the_full_matrix():
    """Worked by hand: rows ground truth. IoU_a = 2/(3+3-2) = 0.5, IoU_b = 3/(3+4-3) = 0.75, IoU_c = 0/1 = 0;
    the SYNTHIA-style mean over (a, b) is 0.625: the c pixel predicted as a still costs a (a false positive)."""
    cm = np.array([[2, 1, 0], [0, 3, 0], [1, 0, 0]])
    assert subset_miou(cm, ["a", "b", "c"], ("a", "b")) == pytest.approx(0.625)
    assert subset_miou(cm, ["a", "b", "c"], ("a", "b", "c")) == pytest.approx(1.25 / 3)
    with pytest.raises(ValueError, match=r"\['d'\] are not among"):
        subset_miou(cm, ["a", "b", "c"], ("a", "d"))
