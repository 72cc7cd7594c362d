"""Corrupting an image with a semantic label map: the label map rides the instance-mask path.

A label map is split into one boolean mask per value present (ignore included), corrupted with
``apply_corruption`` exactly as instance masks are, and put back together. Geometric corruptions warp
masks with nearest-neighbour sampling and a reflecting border, so every output pixel copies one input
pixel's value and the masks stay a partition: the rebuilt map is the label map warped with
nearest-neighbour sampling, no value invented, none blended. Photometric ones leave it unchanged."""
from __future__ import annotations

import numpy as np

from .apply import apply_corruption
from .registry import get_corruption


def apply_corruption_labels(name: str, image: np.ndarray, label_map: np.ndarray, *, severity: int = 0,
                            seed: int = 0, image_id: str = "", fill: int = 255) -> tuple[np.ndarray, np.ndarray]:
    """(image, HxW uint8 label map) -> corrupted (image, label map). ``fill`` labels any pixel no mask
    covers after the warp (none with the registered corruptions; kept so a future cropping warp cannot
    invent a class)."""
    if label_map.ndim != 2 or label_map.shape != image.shape[:2]:
        raise ValueError(f"label map of shape {label_map.shape} does not match image {image.shape[:2]}")
    if not get_corruption(name).geometric:
        out, _ = apply_corruption(name, image, None, severity=severity, seed=seed, image_id=image_id)
        return out, label_map.copy()
    values = np.unique(label_map)
    masks = label_map[None] == values[:, None, None]
    out, warped = apply_corruption(name, image, masks, severity=severity, seed=seed, image_id=image_id)
    labels = np.full(label_map.shape, fill, dtype=label_map.dtype)
    for v, m in zip(values, warped):
        labels[m] = v
    return out, labels
