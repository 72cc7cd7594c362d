"""ImageNet-C noise ops (gaussian, shot, impulse, speckle), as ``imagecorruptions`` 1.1.2 computes them."""
from __future__ import annotations

import cv2
import numpy as np




def _normal(rs, shape, scale: float) -> np.ndarray:
    """``rs.normal(size=shape, scale=scale)`` bit for bit (legacy normal is 0 + scale * gauss, same
    stream), without its broadcasting pass."""
    n = rs.standard_normal(size=shape)
    n *= scale
    return n


def _gaussian_noise(x, severity, rs):
    c = [.08, .12, 0.18, 0.26, 0.38][severity - 1]
    n = _normal(rs, x.shape, c)
    n += x / 255.  # x + n, in place (addition commutes exactly)
    np.clip(n, 0, 1, out=n)
    n *= 255
    return n


_SHOT_OUT = {c: np.resize((np.clip(np.arange(c + 1) / float(c), 0, 1) * 255).astype(np.uint8), 256)
             for c in (60, 25, 12, 5, 3)}  # a LUT over counts 0..c (entries past c are never read)


def _shot_noise(x, severity, rs):
    c = [60, 25, 12, 5, 3][severity - 1]
    lam = (np.arange(256) / 255.) * c  # the reference's x / 255. * c, per grey level
    k = rs.poisson(lam[x])
    np.minimum(k, c, out=k)  # counts above c clip to 1 anyway
    return cv2.LUT(k.astype(np.uint8), _SHOT_OUT[c])


def _impulse_noise(x, severity, rng):
    """Salt and pepper on each value with probability c, half salt, half pepper (skimage 's&p')."""
    c = [.03, .06, .09, 0.17, 0.27][severity - 1]
    u = rng.random(x.shape, dtype=np.float32)
    out = x.copy()
    out[u < c / 2] = 0
    out[(u >= c / 2) & (u < c)] = 255
    return out


def _speckle_noise(x, severity, rs):
    c = [.15, .2, 0.35, 0.45, 0.6][severity - 1]
    x = x / 255.
    n = _normal(rs, x.shape, c)
    n *= x
    n += x  # x + x * n, in place (multiplication and addition commute exactly)
    np.clip(n, 0, 1, out=n)
    n *= 255
    return n
