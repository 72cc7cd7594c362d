"""Per-instance segmentation metrics on boolean masks. Pure numpy/OpenCV; no torch, no models.

Empty-mask rules (one for every metric): both masks empty -> 1.0 (nothing to find, nothing found);
exactly one empty -> 0.0 for IoU, Dice and boundary IoU."""
from __future__ import annotations

import numpy as np

from .boundary import DILATION_RATIO, band, boundary_iou_from_bands, dilation_pixels

METRICS = ("iou", "dice", "pixel_accuracy", "boundary_iou")


def _check(pred: np.ndarray, gt: np.ndarray) -> None:
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in shape")


def iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """|P & G| / |P | G|; 1.0 when both are empty (nothing to find, nothing found)."""
    _check(pred, gt)
    union = np.count_nonzero(pred | gt)
    return 1.0 if union == 0 else np.count_nonzero(pred & gt) / union


def dice(pred: np.ndarray, gt: np.ndarray) -> float:
    """2|P & G| / (|P| + |G|); 1.0 when both are empty."""
    _check(pred, gt)
    total = np.count_nonzero(pred) + np.count_nonzero(gt)
    return 1.0 if total == 0 else 2.0 * np.count_nonzero(pred & gt) / total


def pixel_accuracy(pred: np.ndarray, gt: np.ndarray) -> float:
    """Fraction of pixels labelled correctly (foreground and background)."""
    _check(pred, gt)
    return 1.0 - np.count_nonzero(pred ^ gt) / gt.size


def _as_mask(a: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 2:
        raise ValueError(f"{what} must be a (H, W) mask, got shape {a.shape}")
    return a if a.dtype == np.bool_ else a.astype(bool)


def instance_metrics(pred: np.ndarray, gt: np.ndarray, dilation_ratio: float = DILATION_RATIO) -> dict[str, float]:
    """IoU, Dice, pixel accuracy and boundary IoU of one prediction against one ground truth, at once.

    The evaluator calls this for every instance, so the work is shared: one pass over the full image
    finds the bounding box of P | G, and everything else (counts, one erosion per mask) runs on that
    crop. Cropping is exact: outside the crop both masks are background, which is also how the
    erosion treats the crop's edge. The boundary band width d comes from the full image diagonal."""
    pred, gt = _as_mask(pred, "prediction"), _as_mask(gt, "ground truth")
    _check(pred, gt)
    union_mask = pred | gt
    rows, cols = np.flatnonzero(union_mask.any(axis=1)), np.flatnonzero(union_mask.any(axis=0))
    if rows.size == 0:
        return {"iou": 1.0, "dice": 1.0, "pixel_accuracy": 1.0, "boundary_iou": 1.0}
    crop = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    p, g = pred[crop], gt[crop]
    n_p, n_g, inter = np.count_nonzero(p), np.count_nonzero(g), np.count_nonzero(p & g)
    union = n_p + n_g - inter
    d = dilation_pixels(pred.shape, dilation_ratio)
    return {
        "iou": inter / union,
        "dice": 2.0 * inter / (n_p + n_g),
        "pixel_accuracy": 1.0 - (union - inter) / pred.size,
        "boundary_iou": boundary_iou_from_bands(band(p, d), band(g, d)),
    }
