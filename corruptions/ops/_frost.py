"""Procedural frost textures for ImageNet-C ``frost``.

The reference blends a random crop of one of its bundled frost photos (it draws ``randint(5)``, so
the sixth photo is never used). Those photos are not available at run time here, so the texture
is generated: needle crystals (sparse seeds smeared along six directions) over a soft haze, then
given the per-channel mean and standard deviation of one of the five photos the reference picks
from (measured from imagecorruptions 1.1.2's ``frost1.png``..``frost5.jpg``, RGB order). The
blend with the image is the reference's, so output brightness and contrast match its range.
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

# (mean R, G, B), (std R, G, B) of frost1.png, frost2.png, frost3.png, frost4.jpg, frost5.jpg
FROST_PHOTO_STATS = (
    ((77.7, 149.1, 165.7), (26.9, 16.5, 15.3)),
    ((200.8, 205.4, 214.5), (21.4, 22.1, 22.6)),
    ((200.8, 205.4, 214.5), (21.4, 22.1, 22.6)),
    ((137.6, 152.8, 165.2), (28.5, 28.5, 29.9)),
    ((112.4, 123.4, 134.8), (44.4, 43.3, 41.7)),
)
_MAX_SIDE = 512  # texture resolution cap; larger images get it upscaled, as the reference upscales its photos
_NEEDLE = 15  # needle length in texture pixels


@lru_cache(maxsize=None)
def _needle_kernels() -> tuple[np.ndarray, ...]:
    ks = []
    for deg in range(0, 180, 30):
        k = np.zeros((_NEEDLE, _NEEDLE), dtype=np.float32)
        c = _NEEDLE // 2
        dx, dy = np.cos(np.deg2rad(deg)) * c, np.sin(np.deg2rad(deg)) * c
        cv2.line(k, (int(round(c - dx)), int(round(c - dy))), (int(round(c + dx)), int(round(c + dy))), 1.0, 1,
                 cv2.LINE_AA)
        ks.append(k / k.sum())
    return tuple(ks)


def _standardise(a: np.ndarray) -> np.ndarray:
    return (a - a.mean()) / max(float(a.std()), 1e-6)


def frost_texture(shape: tuple[int, int], rng: np.random.Generator, style: int | None = None) -> np.ndarray:
    """A float32 HxWx3 RGB frost texture in [0, 255], coloured like photo ``style`` (0-4; drawn
    uniformly from ``rng`` when None, as the reference draws its photo)."""
    h, w = shape
    scale = min(1.0, _MAX_SIDE / max(h, w))
    hs, ws = max(8, int(round(h * scale))), max(8, int(round(w * scale)))
    if style is None:
        style = int(rng.integers(len(FROST_PHOTO_STATS)))
    mean, std = FROST_PHOTO_STATS[style]
    crystals = np.zeros((hs, ws), dtype=np.float32)
    for k in _needle_kernels():
        seeds = rng.random((hs, ws), dtype=np.float32)
        seeds = np.where(seeds > 0.985, seeds, np.float32(0))
        crystals += cv2.filter2D(seeds, cv2.CV_32F, k, borderType=cv2.BORDER_REFLECT)
    crystals = np.maximum(crystals, 0)  # filter round-off can go a hair below zero
    haze = rng.standard_normal((max(2, hs // 16), max(2, ws // 16)), dtype=np.float32)
    haze = cv2.resize(haze, (ws, hs), interpolation=cv2.INTER_CUBIC)
    pattern = _standardise(0.75 * _standardise(np.sqrt(crystals)) + 0.5 * _standardise(haze))
    tex = np.asarray(mean, np.float32) + pattern[..., None] * np.asarray(std, np.float32)
    if (hs, ws) != (h, w):
        tex = cv2.resize(tex, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(tex, 0, 255, out=tex)  # tex is float32 already
