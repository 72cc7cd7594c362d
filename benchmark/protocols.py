"""Prompt protocols: ground-truth instance -> prompts. The rules stated here are the benchmark's rules."""
from __future__ import annotations

import cv2
import numpy as np

from baselines.contract import Prompts


def tight_box(mask: np.ndarray) -> np.ndarray:
    """xyxy box in pixel-edge coordinates: [x_min, y_min, x_max + 1, y_max + 1]."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        raise ValueError("empty mask has no box")
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=np.float32)


def farthest_point(mask: np.ndarray) -> np.ndarray:
    """(x, y) of the mask pixel farthest from the mask boundary, where the image border counts as
    boundary; ties go to the first pixel in row-major order. Coordinates are pixel centres."""
    padded = np.pad(mask.astype(np.uint8), 1)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return np.array([x + 0.5, y + 0.5], dtype=np.float32)


def box_prompts(masks: list[np.ndarray]) -> Prompts:
    return Prompts(boxes=np.stack([tight_box(m) for m in masks]))


def point_prompts(masks: list[np.ndarray]) -> Prompts:
    pts = np.stack([farthest_point(m) for m in masks])[:, None, :]
    return Prompts(points=pts, point_labels=np.ones(pts.shape[:2], dtype=np.int32))


PROTOCOLS = {"box": box_prompts, "point": point_prompts}
