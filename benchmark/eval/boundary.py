"""Boundary IoU (Cheng et al., CVPR 2021): IoU restricted to the band of each mask within distance d
of its contour, so that errors along object outlines count as much as errors in the interior.

The rules follow the official ``boundary_iou_api`` (``mask_to_boundary``): d = round(ratio x image
diagonal) with Python's round (half to even), at least 1 pixel; distance is the chessboard distance
of d iterations of a 3x3 erosion; pixels outside the image count as background, so a mask cut by the
image border has a boundary along it. Pure numpy/OpenCV; no torch."""
from __future__ import annotations

import math

import cv2
import numpy as np

DILATION_RATIO = 0.02


def dilation_pixels(shape: tuple[int, ...], dilation_ratio: float = DILATION_RATIO) -> int:
    """Band width d in pixels for an image of ``shape`` (H, W, ...), as the official API rounds it."""
    h, w = shape[:2]
    return max(1, int(round(dilation_ratio * math.sqrt(h * h + w * w))))


def _kernel(d: int) -> np.ndarray:
    # A (2d+1)^2 square erodes exactly as d iterations of a 3x3 square, in one pass.
    return cv2.getStructuringElement(cv2.MORPH_RECT, (2 * d + 1, 2 * d + 1))


def band(mask: np.ndarray, d: int) -> np.ndarray:
    """Mask pixels within chessboard distance d of a background pixel (image outside = background)."""
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    if m.size == 0:
        return m.astype(bool)
    eroded = cv2.erode(m, _kernel(d), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return m > eroded


def mask_boundary(mask: np.ndarray, dilation_ratio: float = DILATION_RATIO) -> np.ndarray:
    """The boundary region G_d ∩ G of a bool (H, W) mask, d from the full image diagonal."""
    return band(mask, dilation_pixels(mask.shape, dilation_ratio))


def boundary_iou_from_bands(pred_band: np.ndarray, gt_band: np.ndarray) -> float:
    """|Pb & Gb| / |Pb | Gb|; 1.0 when both bands are empty (both masks empty)."""
    union = np.count_nonzero(pred_band | gt_band)
    return 1.0 if union == 0 else np.count_nonzero(pred_band & gt_band) / union


def boundary_iou(pred: np.ndarray, gt: np.ndarray, dilation_ratio: float = DILATION_RATIO) -> float:
    """Boundary IoU of two bool (H, W) masks; 1.0 when both are empty, 0.0 when exactly one is."""
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in shape")
    return boundary_iou_from_bands(mask_boundary(pred, dilation_ratio), mask_boundary(gt, dilation_ratio))
