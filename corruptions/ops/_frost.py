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
def _needle_taps() -> tuple[np.ndarray, np.ndarray]:
    """Per direction (0-150 degrees in 30-degree steps), the taps of an anti-aliased line of
    ``_NEEDLE`` px through the centre: (6, _NEEDLE, 2) offsets (dy, dx) and (6, _NEEDLE) weights
    summing to 1 (zero-weight padding where a line has fewer pixels)."""
    offsets = np.zeros((6, _NEEDLE, 2), dtype=np.int64)
    weights = np.zeros((6, _NEEDLE))
    c = _NEEDLE // 2
    for i, deg in enumerate(range(0, 180, 30)):
        k = np.zeros((_NEEDLE, _NEEDLE), dtype=np.float32)
        dx, dy = np.cos(np.deg2rad(deg)) * c, np.sin(np.deg2rad(deg)) * c
        cv2.line(k, (int(round(c - dx)), int(round(c - dy))), (int(round(c + dx)), int(round(c + dy))), 1.0, 1,
                 cv2.LINE_AA)
        ys, xs = np.nonzero(k)
        offsets[i, :len(ys)] = np.stack([ys - c, xs - c], axis=1)
        weights[i, :len(ys)] = k[ys, xs] / k.sum()
    return offsets, weights


def _crystals(hs: int, ws: int, rng: np.random.Generator) -> np.ndarray:
    """Needles: per direction, seeds at 1.5 % of the positions (a binomial count at uniform places),
    each adding its line's taps: one scatter-add (bincount) instead of six dense 15x15 filters.
    Seeds also fall within a needle's reach outside the texture, so the edges are as dense as the
    middle; the canvas has spare rows so every tap lands inside it (taps past a side wrap into the
    cropped margin of the neighbouring row)."""
    r = _NEEDLE // 2
    wc = ws + 2 * r
    hc = hs + 4 * r + 2
    n_pos = (hs + 2 * r) * wc  # seeds on rows r+1 .. hs+3r, every column
    counts = rng.binomial(n_pos, 0.015, size=6)
    seeds = (r + 1) * wc + rng.integers(0, n_pos, counts.sum())
    direction = np.repeat(np.arange(6), counts)
    offsets, weights = _needle_taps()
    flat = offsets[..., 0] * wc + offsets[..., 1]
    idx = seeds[:, None] + flat[direction]
    canvas = np.bincount(idx.ravel(), weights[direction].ravel(), minlength=hc * wc).reshape(hc, wc)
    return canvas[2 * r + 1:2 * r + 1 + hs, r:r + ws].astype(np.float32)


def _mean_inv_std(a: np.ndarray) -> tuple[float, float]:
    mean, std = cv2.meanStdDev(a)
    return float(mean[0, 0]), 1 / max(float(std[0, 0]), 1e-6)


def frost_texture(shape: tuple[int, int], rng: np.random.Generator, style: int | None = None) -> np.ndarray:
    """A uint8 HxWx3 RGB frost texture, coloured like photo ``style`` (0-4; drawn uniformly from
    ``rng`` when None, as the reference draws its photo). Generated at most ``_MAX_SIDE`` px and
    cubic-upscaled as uint8 beyond."""
    h, w = shape
    scale = min(1.0, _MAX_SIDE / max(h, w))
    hs, ws = max(8, int(round(h * scale))), max(8, int(round(w * scale)))
    if style is None:
        style = int(rng.integers(len(FROST_PHOTO_STATS)))
    mean, std = FROST_PHOTO_STATS[style]
    crystals = np.sqrt(_crystals(hs, ws, rng))
    haze = rng.standard_normal((max(2, hs // 16), max(2, ws // 16)), dtype=np.float32)
    haze = cv2.resize(haze, (ws, hs), interpolation=cv2.INTER_CUBIC)
    # pattern = 0.75 standardised crystals + 0.5 standardised haze, standardised; the constant
    # terms cancel in the last step, which goes into each channel's mean + std * pattern
    pattern = cv2.addWeighted(crystals, 0.75 * _mean_inv_std(crystals)[1], haze, 0.5 * _mean_inv_std(haze)[1], 0)
    p_mean, p_inv = _mean_inv_std(pattern)
    tex = cv2.merge([cv2.addWeighted(pattern, s * p_inv, pattern, 0, m - s * p_inv * p_mean, dtype=cv2.CV_8U)
                     for m, s in zip(mean, std)])  # saturated and rounded to uint8
    if (hs, ws) != (h, w):
        tex = cv2.resize(tex, (w, h), interpolation=cv2.INTER_CUBIC)
    return tex
