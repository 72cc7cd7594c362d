"""The 15 Robust-Seg degradations of RobustSAM (data/augment.py @ 6f0e2637), reimplemented
deterministically. Parameter ranges follow ../shared/reference/robustsam-degradations.md."""
from __future__ import annotations

import cv2
import numpy as np

from ..registry import register_corruption

FAMILY = "robustsam"


@register_corruption(FAMILY, "gauss_noise", description="additive Gaussian noise, variance U(250, 260) per channel")
def gauss_noise(image, masks, severity, rng):
    sigma = np.sqrt(rng.uniform(250.0, 260.0))
    noise = rng.standard_normal(image.shape, dtype=np.float32) * np.float32(sigma)
    out = np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    return out, masks


@register_corruption(FAMILY, "resampling_blur", description="bilinear downsample by 4 and back up")
def resampling_blur(image, masks, severity, rng):
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), masks


@register_corruption(FAMILY, "brightness", description="darkening by a factor U(0.6, 0.8)")
def brightness(image, masks, severity, rng):
    factor = rng.uniform(0.6, 0.8)
    return np.clip(image * factor, 0, 255).astype(np.uint8), masks


@register_corruption(FAMILY, "contrast", description="contrast increase by U(1.6, 1.7) around grey 128")
def contrast(image, masks, severity, rng):
    factor = np.float32(rng.uniform(1.6, 1.7))
    out = (image.astype(np.float32) - 128) * factor + 128
    return np.clip(out, 0, 255).astype(np.uint8), masks
