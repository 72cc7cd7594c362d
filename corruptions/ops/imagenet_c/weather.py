"""ImageNet-C weather ops (snow, frost, fog, spatter), as ``imagecorruptions`` 1.1.2 computes them."""
from __future__ import annotations

import cv2
import numpy as np

from .. import _filters as F
from .._filters import STRIP
from .._frost import frost_texture


def _snow(x, severity, rs):
    c = [(0.1, 0.3, 3, 0.5, 10, 4, 0.8), (0.2, 0.3, 2, 0.5, 12, 4, 0.7), (0.55, 0.3, 4, 0.9, 12, 8, 0.7),
         (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65), (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55)][severity - 1]
    h, w = x.shape[:2]
    layer = rs.normal(size=(h, w), loc=c[0], scale=c[1])
    layer = F.clipped_zoom(layer, c[2])
    layer[layer < c[3]] = 0
    np.clip(layer, 0, 1, out=layer)
    offsets, weights = F.imagenet_c_motion_offsets(layer.shape, c[4], c[5], rs.uniform(-135, -45))
    k, anchor = F.shift_kernel(offsets, weights, np.float64)
    layer = F.filter_replicate(layer, k, anchor)
    layer *= 255
    flakes = np.round(layer, out=layer)[:h, :w].astype(np.uint8)  # the reference's layer is flakes / 255.
    return _snow_blend(x, flakes, c[6])


def _snow_blend(x: np.ndarray, flakes: np.ndarray, c6: float) -> np.ndarray:
    """The reference's ``clip(c6 x + (1 - c6) max(x, 1.5 gray + 0.5) + layer + rot180(layer), 0, 1)
    * 255`` truncated, with its float32 then float64 arithmetic, in row bands through reused
    buffers, with 3-channel copies of the one-channel terms (numpy's broadcast over 3 channels is
    5x slower). Its lower clip is left out: every term is >= 0."""
    h, w, n_ch = x.shape
    out = np.empty(x.shape, dtype=np.uint8)
    turned = flakes[::-1, ::-1]
    rows = (STRIP, w)
    gray, lay = np.empty(rows, np.float32), np.empty(rows)
    xf, gray3 = np.empty(rows + (n_ch,), np.float32), np.empty(rows + (n_ch,), np.float32)
    band, lay3 = np.empty(rows + (n_ch,)), np.empty(rows + (n_ch,))
    for r0 in range(0, h, STRIP):
        r1 = min(r0 + STRIP, h)
        n = r1 - r0
        np.divide(x[r0:r1], np.float32(255.), out=xf[:n])
        g = cv2.cvtColor(xf[:n], cv2.COLOR_RGB2GRAY, dst=gray[:n])
        g *= 1.5
        g += 0.5
        g3 = np.maximum(xf[:n], cv2.merge([g] * n_ch, dst=gray3[:n]), out=gray3[:n])
        g3 *= 1 - c6
        f = np.multiply(xf[:n], c6, out=xf[:n])
        f += g3
        b = np.add(f, cv2.merge([np.divide(flakes[r0:r1], 255., out=lay[:n])] * n_ch, dst=lay3[:n]), out=band[:n])
        b += cv2.merge([np.divide(turned[r0:r1], 255., out=lay[:n])] * n_ch, dst=lay3[:n])
        np.minimum(b, 1, out=b)
        b *= 255
        np.copyto(out[r0:r1], b, casting="unsafe")  # truncation, as np.uint8()
    return out


_FROST = [(1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)]


def _frost(x, severity, rng):
    """The reference's blend ``c0 * x + c1 * frost`` in one saturating uint8 pass (rounded, the
    reference truncates: +0.5 grey level on average, far inside the texture's statistical match)."""
    c = _FROST[severity - 1]
    return cv2.addWeighted(x, c[0], frost_texture(x.shape[:2], rng), c[1], 0)


def _add_rolled(x: np.ndarray, shift: int, axis: int, out: np.ndarray) -> np.ndarray:
    """``x + np.roll(x, shift, axis)`` (shift +-1) into ``out``, from slices instead of a rolled copy."""
    xs = np.moveaxis(x, axis, 0)
    os_ = np.moveaxis(out, axis, 0)
    if shift == -1:
        np.add(xs[:-1], xs[1:], out=os_[:-1])
        np.add(xs[-1], xs[0], out=os_[-1])
    else:
        np.add(xs[1:], xs[:-1], out=os_[1:])
        np.add(xs[0], xs[-1], out=os_[0])
    return out


def _plasma_fractal(mapsize: int, wibbledecay: float, rs) -> tuple[np.ndarray, ...]:
    """Diamond-square height map, drawing from ``rs`` in the reference's order, before the
    reference's normalisation to [0, 1] (``_fog`` does that on its crop), as the four quarter grids
    of its last level: rows even/odd x columns even/odd (ee, eo, oe, oo). Built coarse to fine on
    contiguous arrays: each level computes the new points from the known grid ``ul`` (the
    reference's ``a[::step, ::step]``) with its sums of rolled copies, term for term (IEEE addition
    commutes); the full map is never assembled."""
    ul = np.zeros((1, 1))
    wibble = 100.0
    while True:
        t = np.empty_like(ul)
        dr = _add_rolled(_add_rolled(ul, -1, 0, t), -1, 1, np.empty_like(ul))
        _add_noise(dr, wibble, rs)  # square centres
        lt = _add_rolled(dr, 1, 0, np.empty_like(ul))
        lt += _add_rolled(ul, -1, 1, t)
        _add_noise(lt, wibble, rs)  # midpoints of the horizontal edges
        tt = _add_rolled(dr, 1, 1, np.empty_like(ul))
        tt += _add_rolled(ul, -1, 0, t)
        _add_noise(tt, wibble, rs)  # midpoints of the vertical edges
        wibble /= wibbledecay
        if 2 * ul.shape[0] >= mapsize:
            return ul, lt, tt, dr
        ul = _interleave(ul, lt, tt, dr, np.empty((2 * ul.shape[0],) * 2))


def _add_noise(total: np.ndarray, wibble: float, rs) -> None:
    """``total = total / 4 + wibble * rs.uniform(-wibble, wibble, total.shape)`` in place, drawn in
    row blocks (the same stream, value for value) so no full-size temporary is faulted in."""
    rows = max(1, 8192 // total.shape[1])
    for r in range(0, total.shape[0], rows):
        part = total[r:r + rows]
        noise = rs.uniform(-wibble, wibble, part.shape)
        noise *= wibble
        part *= 0.25  # == / 4 exactly (a power of two)
        part += noise


def _interleave(ee: np.ndarray, eo: np.ndarray, oe: np.ndarray, oo: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The grid whose even/odd rows x even/odd columns are the four quarters."""
    out[0::2, 0::2], out[0::2, 1::2], out[1::2, 0::2], out[1::2, 1::2] = ee, eo, oe, oo
    return out


def _fog(x, severity, rs):
    """The reference's float64 arithmetic per value, in row bands with reused buffers, truncated to
    uint8 as it is. Its clip to [0, 1] is left out: every term is >= 0 and the value is at most
    max_val (within 2 ulp of 1), whose x 255 truncates as the clipped value does."""
    c = [(1.5, 2), (2., 2), (2.5, 1.7), (2.5, 1.5), (3., 1.4)][severity - 1]
    h, w = x.shape[:2]
    mapsize = 1 << (max(h, w) - 1).bit_length()
    quads = _plasma_fractal(mapsize, c[1], rs)
    low = min(q.min() for q in quads)  # the reference's plasma is (a - low) / high,
    high = max(q.max() for q in quads) - low  # high = max(a - low) = max(a) - low (rounding is monotone)
    max_val = x.max() / 255.  # == (x / 255.).max(), likewise
    out = np.empty(x.shape, dtype=np.uint8)
    half_w = (w + 1) // 2
    plasma = np.empty((STRIP, 2 * half_w))
    buf, fog3 = np.empty((STRIP,) + x.shape[1:]), np.empty((STRIP,) + x.shape[1:])
    for r0 in range(0, h, STRIP):
        n = min(STRIP, h - r0)
        i0, i1 = r0 // 2, (r0 + n + 1) // 2
        f = _interleave(*(q[i0:i1, :half_w] for q in quads), plasma[:2 * (i1 - i0)])[:n, :w]
        f -= low
        f /= high
        f *= c[0]
        b = buf[:n]
        np.divide(x[r0:r0 + n], 255., out=b)
        b += cv2.merge([f] * x.shape[2], dst=fog3[:n])  # numpy's broadcast over 3 channels is 5x slower
        b *= max_val  # x * max_val / (max_val + c0), left to right as the reference
        b /= max_val + c[0]
        b *= 255
        np.copyto(out[r0:r0 + n], b, casting="unsafe")  # truncation, as np.uint8()
    return out


def _spatter(x, severity, rs):
    """The reference's arithmetic, with OpenCV's float64 Gaussian for scipy's (same kernel; sums
    differ by ulps) and the final blend computed only where the liquid/mud map is non-zero: elsewhere
    the reference returns ``trunc(float32(x / 255) * 255) == x`` (every uint8 x)."""
    c = [(0.65, 0.3, 4, 0.69, 0.6, 0), (0.65, 0.3, 3, 0.68, 0.6, 0), (0.65, 0.3, 2, 0.68, 0.5, 0),
         (0.65, 0.3, 1, 0.65, 1.5, 1), (0.67, 0.4, 1, 0.65, 1.5, 1)][severity - 1]
    liquid = rs.normal(size=x.shape[:2], loc=c[0], scale=c[1])
    liquid = F.gaussian_blur(liquid, c[2], c[2], cv2.BORDER_REPLICATE)
    liquid[liquid < c[3]] = 0
    if c[5] == 0:
        liquid = (liquid * 255).astype(np.uint8)
        dist = 255 - cv2.Canny(liquid, 50, 150)
        dist = cv2.distanceTransform(dist, cv2.DIST_L2, 5)
        _, dist = cv2.threshold(dist, 20, 20, cv2.THRESH_TRUNC)
        dist = cv2.blur(dist, (3, 3)).astype(np.uint8)
        dist = cv2.equalizeHist(dist)
        ker = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])
        dist = cv2.filter2D(dist, cv2.CV_8U, ker)
        dist = cv2.blur(dist, (3, 3)).astype(np.float32)
        m = liquid * dist  # float32, one channel; the reference broadcasts it to BGRA
        peak = np.max(m)
        if peak > 0:  # no liquid above threshold (small images): the reference divides 0 by 0 -> black image
            m = m / peak * c[4]
        return _blend_where(x, m, np.array([175 / 255., 238 / 255., 238 / 255.]), mud=False)
    m = (liquid > c[3]).astype(np.float32)
    k, one = F.gaussian_kernel1d(c[4]), np.ones(1)
    for kx, ky in ((one, k), (k, one)):  # scipy: axis 0 then 1, float64 sums stored as float32 (equal)
        m = cv2.sepFilter2D(m, cv2.CV_64F, kx, ky, borderType=cv2.BORDER_REPLICATE).astype(np.float32)
    m[m < 0.8] = 0
    return _blend_where(x, m, np.array([63 / 255., 42 / 255., 20 / 255.]), mud=True)


def _blend_where(x: np.ndarray, m: np.ndarray, color: np.ndarray, mud: bool) -> np.ndarray:
    """``x`` with the reference's float blend at the pixels where ``m`` > 0: water adds ``m * color``
    to ``x / 255``, mud first scales it by ``1 - m``; clipped, x 255, truncated."""
    out = x.copy()
    flat = out.reshape(-1, x.shape[2])
    idx = np.flatnonzero(m)
    mi = m.ravel()[idx][:, None]
    xf = flat[idx].astype(np.float32) / 255.
    if mud:
        xf *= (1 - mi)
    flat[idx] = np.clip(xf + mi * color, 0, 1) * 255
    return out
