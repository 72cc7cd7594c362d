"""Semantic-segmentation metrics, mmseg's definitions, all from one confusion matrix accumulated over
images (rows: ground truth, columns: prediction; ignore-index pixels excluded):

IoU_c = TP / (TP + FP + FN); Acc_c = TP / (TP + FN); mIoU, mAcc = their means over classes that occur
(a class absent from both ground truth and prediction is NaN and left out of the mean, as mmseg's
``nanmean``); aAcc = trace / total. Pure numpy: no torch, no model."""
from __future__ import annotations

import numpy as np

IGNORE_INDEX = 255


def confusion_matrix(gt: np.ndarray, pred: np.ndarray, num_classes: int, ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """(C, C) int64 counts of (ground-truth class, predicted class) over the non-ignored pixels."""
    if gt.shape != pred.shape:
        raise ValueError(f"ground truth {gt.shape} and prediction {pred.shape} differ in shape")
    valid = gt != ignore_index
    g, p = gt[valid].astype(np.int64), pred[valid].astype(np.int64)
    if g.size and (g.max() >= num_classes or p.min() < 0 or p.max() >= num_classes):
        raise ValueError(f"label values outside 0..{num_classes - 1} (ground truth max {g.max()}, prediction "
                         f"range {p.min()}..{p.max()})")
    return np.bincount(g * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def class_iou(cm: np.ndarray) -> np.ndarray:
    tp = np.diag(cm).astype(np.float64)
    union = cm.sum(0) + cm.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def class_accuracy(cm: np.ndarray) -> np.ndarray:
    tp = np.diag(cm).astype(np.float64)
    total = cm.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, tp / total, np.nan)


def _nanmean(x: np.ndarray) -> float:
    return float(np.nanmean(x)) if np.isfinite(x).any() else float("nan")


def semantic_scores(cm: np.ndarray) -> dict[str, float]:
    """mIoU, mAcc, aAcc (fractions) of a confusion matrix; NaN where nothing was counted."""
    total = cm.sum()
    return {"miou": _nanmean(class_iou(cm)), "macc": _nanmean(class_accuracy(cm)),
            "aacc": float(np.trace(cm) / total) if total else float("nan")}


def subset_miou(cm: np.ndarray, classes: list[str] | tuple[str, ...], subset: tuple[str, ...]) -> float:
    """mIoU over the named classes only, each IoU taken from the full matrix: how SYNTHIA -> Cityscapes is
    scored over 16 (and 13) of the 19 classes, where a pixel predicted as one of the others still counts
    against its true class. A class absent from ground truth and prediction is left out, as in mIoU."""
    missing = [c for c in subset if c not in classes]
    if missing:
        raise ValueError(f"classes {missing} are not among the dataset's {list(classes)}")
    iou = class_iou(cm)
    return _nanmean(iou[[list(classes).index(c) for c in subset]])
