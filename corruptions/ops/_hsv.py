"""RGB <-> HSV on float images in [0, 1], with scikit-image's arithmetic (``rgb2hsv``/``hsv2rgb``)
step for step, so results match it bit for bit, on contiguous channel planes (numpy reductions
over a last axis of 3 are slow) and without its per-call overhead."""
from __future__ import annotations

import numpy as np


def rgb2hsv_planes(r: np.ndarray, g: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    v = np.maximum(np.maximum(r, g), b)
    delta = v - np.minimum(np.minimum(r, g), b)
    flat = delta == 0.0
    safe = np.where(flat, 1.0, delta)
    s = np.where(flat, 0.0, delta / np.where(v == 0, 1.0, v))
    h = np.where(r == v, (g - b) / safe, 0.0)
    np.copyto(h, 2.0 + (b - r) / safe, where=g == v)  # later channels win ties, as in skimage
    np.copyto(h, 4.0 + (r - g) / safe, where=b == v)
    h = (h / 6.0) % 1.0
    h[flat] = 0.0
    return h, s, v


def hsv2rgb_planes(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    hi = np.floor(h * 6)
    f = h * 6 - hi
    p = v * (1 - s)
    q = v * (1 - f * s)
    t = v * (1 - (1 - f) * s)
    hi = hi.astype(np.uint8) % 6
    out = np.empty(h.shape + (3,), dtype=np.float64)
    for c, picks in enumerate(((v, q, p, p, t, v), (t, v, v, q, p, p), (p, p, t, v, v, q))):
        out[..., c] = np.choose(hi, picks)
    return out
