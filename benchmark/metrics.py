"""Per-instance segmentation metrics on boolean masks. Pure numpy; no torch, no models."""
from __future__ import annotations

import numpy as np


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
