"""One entry point for builders: normalise input, derive the rng, run, check the output."""
from __future__ import annotations

import numpy as np

from .image import ImageFormatError, to_rgb_uint8
from .registry import corruption_rng, get_corruption

MIN_SIDE = 16  # smallest side every corruption is defined and tested on


def apply_corruption(name: str, image: np.ndarray, masks: np.ndarray | None = None, *, severity: int = 0,
                     seed: int = 0, image_id: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Corrupt ``image`` (any supported input) and its (N, H, W) bool masks; deterministic in
    (seed, image_id, corruption, severity). Returns uint8 HxWx3 RGB and bool masks of the same size."""
    c = get_corruption(name)
    if severity not in c.severities:
        raise ValueError(f"corruption {c.key!r} has severities {c.severities}, not {severity}")
    img = to_rgb_uint8(image, what=f"input to {c.key}")
    h, w = img.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise ImageFormatError(f"input to {c.key}: image of {h}x{w} is below the {MIN_SIDE}x{MIN_SIDE} minimum")
    if masks is None:
        masks = np.zeros((0, h, w), dtype=bool)
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim != 3 or masks.shape[1:] != (h, w):
        raise ValueError(f"{c.key}: masks of shape {masks.shape} do not match image {h}x{w}")
    out, out_masks = c.fn(img, masks, severity, corruption_rng(seed, image_id, c.key, severity))
    if out.dtype != np.uint8 or out.shape != img.shape:
        raise RuntimeError(f"{c.key} returned {out.dtype} {out.shape}, expected uint8 {img.shape}")
    if out_masks.shape != masks.shape:
        raise RuntimeError(f"{c.key} returned masks {out_masks.shape}, expected {masks.shape}")
    return np.ascontiguousarray(out), out_masks.astype(bool, copy=False)
