"""The 19 ImageNet-C corruptions of the ``imagecorruptions`` package (1.1.2), severities 1-5.

Parameter tables are the package's. Each op reproduces the reference's arithmetic and its order
of draws from a legacy ``RandomState`` (seeded from the corruption rng), so with
``RandomState(0)`` the internal ``IMPLS`` give the reference's output under ``np.random.seed(0)``
(bit-equal, or |d| <= 1 where a float32/OpenCV filter replaces a float64 one). Deviations, each
in docs/corruptions.md: impulse_noise draws from the seeded generator (the reference is unseeded),
frost uses procedural textures. Speed comes from OpenCV filters, separable zooms, LUTs, a vectorised
HSV conversion and glass_blur's shuffle loop resolved by pointer doubling (exactly, not approximately).
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from ..registry import register_corruption
from . import _filters as F
from ._frost import frost_texture
from ._hsv import hsv_roundtrip_uint8

FAMILY = "imagecorruptions"
SEVERITIES = (1, 2, 3, 4, 5)


# -- noise --------------------------------------------------------------------------------------

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


# -- blur ---------------------------------------------------------------------------------------

def _gaussian_blur(x, severity, rs):
    c = [1, 2, 3, 4, 6][severity - 1]
    y = F.gaussian_blur(x.astype(np.float32) * np.float32(1 / 255.), c, c, cv2.BORDER_REPLICATE)
    return np.clip(y, 0, 1) * 255


@lru_cache(maxsize=None)
def _disk(radius: int, alias_blur: float) -> np.ndarray:
    if radius <= 8:
        L, ksize = np.arange(-8, 8 + 1), (3, 3)
    else:
        L, ksize = np.arange(-radius, radius + 1), (5, 5)
    X, Y = np.meshgrid(L, L)
    d = np.array((X**2 + Y**2) <= radius**2, dtype=np.float32)
    d /= np.sum(d)
    return cv2.GaussianBlur(d, ksize=ksize, sigmaX=alias_blur)


def _defocus_blur(x, severity, rs):
    """Plane by plane, as the reference filters (bit-equal: the same float64 filter2D of the same
    plane), through two reused float64 plane buffers rather than 3-channel temporaries."""
    c = [(3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)][severity - 1]
    k = _disk(*c)
    r = k.shape[0] // 2
    h, w = x.shape[:2]
    pad = r if r >= min(h, w) else 0  # cv2's reflect-101 border needs the kernel inside the image
    unit = np.arange(256) / 255.  # x / 255. per grey level
    xf, y = np.empty((h + 2 * pad, w + 2 * pad)), np.empty((h + 2 * pad, w + 2 * pad))
    planes = cv2.split(x)
    for p in planes:
        xf = cv2.LUT(np.pad(p, pad, mode="reflect") if pad else p, unit, dst=xf)
        v = cv2.filter2D(xf, cv2.CV_64F, k, dst=y)[pad:pad + h, pad:pad + w]
        np.clip(v, 0, 1, out=v)
        v *= 255
        np.copyto(p, v, casting="unsafe")  # truncation, the reference's np.uint8
    return cv2.merge(planes)


_GLASS = [(0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)]


def glass_sources(shape: tuple[int, int], d: int, rs) -> np.ndarray:
    """Flat source index of every pixel after one pass of the reference's shuffling loop.

    The reference walks h = H-d .. d+1 and w = W-d .. d+1 (reverse raster order) drawing
    ``dx, dy = randint(-d, d, size=2)`` and "swaps" ``x[h, w], x[h+dy, w+dx] = x[h+dy, w+dx], x[h, w]``.
    On numpy rows that tuple assignment is a copy (the right side holds views), so each step is
    ``x[p] = x[p + delta]`` read from the current state: the value is original unless ``p + delta``
    was processed earlier (later in raster order), in which case it is that pixel's final value.
    The chains are resolved here by pointer jumping over the chained pixels only, which gives the
    loop's result exactly. Indices are int32 (the same ``randint`` stream as the default dtype), and
    the processed pixels, a block, are handled as 2-D slices rather than index arrays.
    """
    h, w = shape
    src = np.arange(h * w, dtype=np.int32)
    nh, nw = h - 2 * d, w - 2 * d  # the loop's rows d+1 .. h-d and columns d+1 .. w-d
    if nh <= 0 or nw <= 0:
        return src
    draws = rs.randint(-d, d, size=(nh * nw, 2), dtype=np.int32)[::-1]  # in raster order
    block = (slice(d + 1, h - d + 1), slice(d + 1, w - d + 1))
    off = (draws[:, 1] * w).reshape(nh, nw)
    off += draws[:, 0].reshape(nh, nw)
    p = src.reshape(h, w)[block]
    q = p + off
    flag = np.zeros((h, w), dtype=bool)
    flag[block] = True  # processed
    chained = flag.ravel()[q]
    chained &= off > 0  # q is processed before p: p copies q's final value
    link = src.copy()  # chained p -> the next pixel of its chain, others -> themselves
    link.reshape(h, w)[block] = np.where(chained, q, p)
    p[...] = q  # src: the pixel p copies, final for unchained p
    flag[block] = chained
    is_chained = flag.ravel()
    active = np.flatnonzero(is_chained).astype(np.int32)
    while active.size:  # jump until every chained pixel points at its chain's unchained end
        nxt = link[link[active]]
        link[active] = nxt
        active = active[is_chained[nxt]]
    return src[link]


def _glass_blur(x, severity, rs):
    """Blur, shuffle with the reference's draws, blur again: bit-equal (both blurs repeat scipy's
    arithmetic; the second one's clip to [0, 1] never changes the truncated value, as a normalised
    kernel on [0, 1] gives at most 1 + a few ulp). Pixels are shuffled as one uint32 each."""
    sigma, d, iterations = _GLASS[severity - 1]
    h, w = x.shape[:2]
    px = np.zeros((h, w, 4), np.uint8)  # RGB + a pad byte
    F.scipy_gaussian_u8(x, sigma, px[..., :3])
    flat = px.view(np.uint32).reshape(h * w)
    for _ in range(iterations):
        flat = flat[glass_sources((h, w), d, rs)]
    shuffled = cv2.cvtColor(flat.view(np.uint8).reshape(h, w, 4), cv2.COLOR_RGBA2RGB)
    return F.scipy_gaussian_u8(shuffled, sigma, np.empty_like(shuffled))


def _motion_blur(x, severity, rs):
    c = [(10, 3), (15, 5), (15, 8), (15, 12), (20, 15)][severity - 1]
    angle = rs.uniform(-45, 45)
    offsets, weights = F.imagenet_c_motion_offsets(x.shape[:2], c[0], c[1], angle)
    k, anchor = F.shift_kernel(offsets, weights, np.float32)
    return np.clip(F.filter_replicate(x.astype(np.float32), k, anchor), 0, 255)


_ZOOMS = [np.arange(1, 1.11, 0.01), np.arange(1, 1.16, 0.01), np.arange(1, 1.21, 0.02),
          np.arange(1, 1.26, 0.02), np.arange(1, 1.31, 0.03)]


_STRIP = 32  # rows per band of the banded ops (even: fog interleaves row pairs): temporaries stay in cache


def _lerp(lo: np.ndarray, hi: np.ndarray, f: np.ndarray) -> np.ndarray:
    """lo + (hi - lo) * f into ``lo`` (``hi`` is overwritten); exactly lo where hi == lo."""
    hi -= lo
    hi *= f
    lo += hi
    return lo


def _zoom_layers(h: int, w: int, zooms) -> list:
    """Per zoom, clipped_zoom's grid in whole-image coordinates: source rows (lower, upper) and
    row weights, nearest-remap column tables (lower, upper) for one strip, column weights (x3)."""
    layers = []
    for z in zooms:
        ch0, ch1 = int(np.ceil(h / float(z))), int(np.ceil(w / float(z)))
        top0, top1 = (h - ch0) // 2, (w - ch1) // 2
        r0, r1, fr = F.linear_zoom_grid(ch0, round(ch0 * z), h)  # ch * z rounds to >= h, w
        c0, c1, fc = F.linear_zoom_grid(ch1, round(ch1 * z), w)
        cols = [np.ascontiguousarray(np.broadcast_to((c + top1).astype(np.float32), (_STRIP, w))) for c in (c0, c1)]
        layers.append((r0 + top0, r1 + top0, fr.astype(np.float32)[:, None, None], cols,
                       np.repeat(fc.astype(np.float32), 3).reshape(w, 3)))
    return layers


def _zoom_blur(x, severity, rs):
    """The reference's float32 operations in its order (per layer rows then columns, lo + (hi - lo)
    * f; layers summed in zoom order), done _STRIP output rows at a time in reused buffers: rows
    are gathered whole (the crop's columns live in the column tables), columns by nearest remap."""
    zooms = _ZOOMS[severity - 1]
    h, w = x.shape[:2]
    xf = (x / 255.).astype(np.float32)
    layers = _zoom_layers(h, w, zooms)
    map_y = np.ascontiguousarray(np.broadcast_to(np.arange(_STRIP, dtype=np.float32)[:, None], (_STRIP, w)))
    lo, hi, clo, chi, acc = (np.empty((_STRIP, w, 3), np.float32) for _ in range(5))
    out = np.empty((h, w, 3), np.uint8)
    for a in range(0, h, _STRIP):
        b = min(a + _STRIP, h)
        n = b - a
        total = acc[:n]
        total.fill(0)
        for r0, r1, fr, (m0, m1), fc in layers:
            # mode='clip' (indices are in range): with the default 'raise', take buffers ``out``
            rows = np.take(xf, r0[a:b], axis=0, out=lo[:n], mode='clip')
            below = np.take(xf, r1[a:b], axis=0, out=hi[:n], mode='clip')
            rows = _lerp(rows, below, fr[a:b])
            left = cv2.remap(rows, m0[:n], map_y[:n], cv2.INTER_NEAREST, dst=clo[:n])
            right = cv2.remap(rows, m1[:n], map_y[:n], cv2.INTER_NEAREST, dst=chi[:n])
            total += _lerp(left, right, fc)
        total += xf[a:b]
        total /= len(zooms) + 1
        np.clip(total, 0, 1, out=total)
        total *= 255
        out[a:b] = total  # truncation, the reference's np.uint8
    return out


# -- weather ------------------------------------------------------------------------------------

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
    rows = (_STRIP, w)
    gray, lay = np.empty(rows, np.float32), np.empty(rows)
    xf, gray3 = np.empty(rows + (n_ch,), np.float32), np.empty(rows + (n_ch,), np.float32)
    band, lay3 = np.empty(rows + (n_ch,)), np.empty(rows + (n_ch,))
    for r0 in range(0, h, _STRIP):
        r1 = min(r0 + _STRIP, h)
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
    plasma = np.empty((_STRIP, 2 * half_w))
    buf, fog3 = np.empty((_STRIP,) + x.shape[1:]), np.empty((_STRIP,) + x.shape[1:])
    for r0 in range(0, h, _STRIP):
        n = min(_STRIP, h - r0)
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


# -- digital ------------------------------------------------------------------------------------

def _contrast(x, severity, rs):
    """The reference's float64 arithmetic on the 256 grey levels of each channel (around the
    channel means it computes), applied as one per-channel LUT."""
    c = [0.4, .3, .2, .1, .05][severity - 1]
    means = np.mean(x / 255., axis=(0, 1))
    lut = np.clip((_UNIT[:, None] - means) * c + means, 0, 1) * 255
    return cv2.LUT(x, F.to_uint8_trunc(lut).reshape(256, 1, 3))


_UNIT = np.arange(256) / 255.  # x / 255. per grey level


def _brightness(x, severity, rs):
    c = [.1, .2, .3, .4, .5][severity - 1]
    return hsv_roundtrip_uint8(x, np.clip(_UNIT + c, 0, 1))  # v' = clip(v + c, 0, 1) per max level


def _saturate(x, severity, rs):
    c = [(0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (20, 0.2)][severity - 1]
    return hsv_roundtrip_uint8(x, _UNIT, c[0], c[1])


def _jpeg_compression(x, severity, rs):
    c = [25, 18, 15, 10, 7][severity - 1]
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(x, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, c])
    if not ok:
        raise RuntimeError("OpenCV failed to encode the JPEG for jpeg_compression")
    return cv2.imdecode(buf, cv2.IMREAD_COLOR_RGB)


@lru_cache(maxsize=None)
def _box_runs(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Pillow's BOX support for one axis: each output averages the run [a, b) of inputs with equal
    weights. Returns (a, b)."""
    scale = n_in / n_out
    support = 0.5 * max(scale, 1.0)
    a = np.zeros(n_out, dtype=np.intp)
    b = np.zeros(n_out, dtype=np.intp)
    for xx in range(n_out):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), n_in)
        t = (np.arange(xmin, xmax) - center + 0.5) / max(scale, 1.0)
        on = np.flatnonzero((t > -0.5) & (t <= 0.5))
        a[xx], b[xx] = xmin + on[0], xmin + on[-1] + 1
    return a, b


def _box_rows(img: np.ndarray, n_out: int) -> np.ndarray:
    """Pillow's BOX pass along axis 0 of a uint8 array. Runs of one length share one weight, so
    each length is a gather of whole rows and an exact sum s. For runs of n <= 5 (scale >= 0.25)
    Pillow's fixed point ``(s*k + 2**21) >> 22`` equals s/n rounded half up (its error is below
    2e-4, far from the 1/(2n) a non-tie keeps from .5; n = 2, 4 have exact k), which is
    round(s/n + 0.25/n) with a margin of 0.25/n: one float32 convertScaleAbs."""
    a, b = _box_runs(img.shape[0], n_out)
    flat = img.reshape(img.shape[0], -1)
    out = np.empty((n_out, flat.shape[1]), dtype=np.uint8)
    length = b - a
    for n in np.unique(length):
        rows = np.flatnonzero(length == n)
        start = a[rows]
        if n == 1:
            out[rows] = flat[start]
            continue
        s = cv2.add(flat[start], flat[start + 1], dtype=cv2.CV_16U)
        for j in range(2, n):
            cv2.add(s, flat[start + j], dst=s, dtype=cv2.CV_16U)
        out[rows] = cv2.convertScaleAbs(s, alpha=1.0 / n, beta=0.25 / n)
    return out.reshape((n_out,) + img.shape[1:])


def _pixelate(x, severity, rs):
    """Pillow's BOX downscale (horizontal then vertical pass) and NEAREST upscale, in integers; the
    horizontal pass runs on the transposed image, so both passes gather whole rows."""
    c = [0.6, 0.5, 0.4, 0.3, 0.25][severity - 1]
    h, w = x.shape[:2]
    ws, hs = int(w * c), int(h * c)
    small = x
    if ws != w:
        small = cv2.transpose(_box_rows(cv2.transpose(small), ws))
    if hs != h:
        small = _box_rows(small, hs)
    # NEAREST_EXACT samples floor((x + 0.5) * scale), Pillow's nearest rule
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST_EXACT)


def _elastic_field(shape, severity, rs):
    """The reference's displacements (dx, dy), float32: uniform noise drawn in its order, Gaussian
    smoothed (reflect, truncate 3) and scaled. The smoothing runs in float32 (3x faster than
    float64; the fields are float32 anyway): a few ulp per field value, < 1e-5 of output values move."""
    h, w = shape
    sigma = np.array((h, w)) * 0.01
    alpha = [250 * 0.05, 250 * 0.065, 250 * 0.085, 250 * 0.1, 250 * 0.12][severity - 1]
    max_d = h * 0.005
    fields = []
    for _ in range(2):  # dx first, then dy, as the reference draws them
        noise = rs.uniform(-max_d, max_d, size=(h, w)).astype(np.float32)
        d = F.gaussian_blur(noise, sigma[0], sigma[1], cv2.BORDER_REFLECT, truncate=3)
        d *= np.float32(alpha)
        fields.append(d)
    return fields


def _bilinear_reflect(x: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """uint8(clip(map_coordinates(x / 255, (y + dy, x + dx), order=1, mode='reflect')) * 255), the
    reference's warp, _STRIP rows at a time in reused buffers: the four corners gathered by nearest
    remap (BORDER_REFLECT is scipy's 'reflect' on the integer taps), lerped in float32. Flat corners
    give their value exactly, as scipy's float64 sum rounded to float32 does; elsewhere the two
    agree to float32 round-off (< 1e-5 of the values truncate differently)."""
    h, w = x.shape[:2]
    xf = x.astype(np.float32) / np.float32(255.)
    out = np.empty((h, w, 3), np.uint8)
    gx = np.arange(w, dtype=np.float32)
    x0, y0, x1, y1, fx, fy = (np.empty((_STRIP, w), np.float32) for _ in range(6))
    tl, tr, bl, br, fx3, fy3 = (np.empty((_STRIP, w, 3), np.float32) for _ in range(6))
    for a in range(0, h, _STRIP):
        b = min(a + _STRIP, h)
        n = b - a
        for d, i0, i1, f, grid in ((dx[a:b], x0, x1, fx, gx), (dy[a:b], y0, y1, fy, np.arange(a, b, dtype=np.float32)[:, None])):
            i0, i1, f = i0[:n], i1[:n], f[:n]
            np.floor(d, out=i0)
            np.subtract(d, i0, out=f)
            i0 += grid
            np.add(i0, 1, out=i1)
        corners = [cv2.remap(xf, mx[:n], my[:n], cv2.INTER_NEAREST, dst=dst[:n], borderMode=cv2.BORDER_REFLECT)
                   for (mx, my), dst in zip(((x0, y0), (x1, y0), (x0, y1), (x1, y1)), (tl, tr, bl, br))]
        wx = cv2.merge([fx[:n]] * 3, dst=fx3[:n])
        wy = cv2.merge([fy[:n]] * 3, dst=fy3[:n])
        top = _lerp(corners[0], corners[1], wx)
        bottom = _lerp(corners[2], corners[3], wx)
        val = _lerp(top, bottom, wy)
        np.clip(val, 0, 1, out=val)
        val *= 255
        out[a:b] = val  # truncation, the reference's np.uint8
    return out


def _elastic_transform_full(x, masks, severity, rs):
    """The warped image (uint8) and the masks warped with the same field (nearest, same border)."""
    h, w = x.shape[:2]
    dx, dy = _elastic_field((h, w), severity, rs)
    out = _bilinear_reflect(x, dx, dy)
    dx += np.arange(w, dtype=np.float32)  # the sampling maps x + dx, y + dy
    dy += np.arange(h, dtype=np.float32)[:, None]
    return out, F.remap_masks(masks, dx, dy, cv2.BORDER_REFLECT)


def _elastic_transform(x, severity, rs):
    return _elastic_transform_full(x, np.zeros((0,) + x.shape[:2], bool), severity, rs)[0]


# -- registration -------------------------------------------------------------------------------

#: name -> (implementation on uint8 RGB returning float in [0, 255] or uint8, which rng it takes:
#: "legacy" = a RandomState in the reference's draw order, "generator" = the corruption rng)
IMPLS = {
    "gaussian_noise": (_gaussian_noise, "legacy"),
    "shot_noise": (_shot_noise, "legacy"),
    "impulse_noise": (_impulse_noise, "generator"),
    "defocus_blur": (_defocus_blur, "legacy"),
    "glass_blur": (_glass_blur, "legacy"),
    "motion_blur": (_motion_blur, "legacy"),
    "zoom_blur": (_zoom_blur, "legacy"),
    "snow": (_snow, "legacy"),
    "frost": (_frost, "generator"),
    "fog": (_fog, "legacy"),
    "brightness": (_brightness, "legacy"),
    "contrast": (_contrast, "legacy"),
    "elastic_transform": (_elastic_transform, "legacy"),
    "pixelate": (_pixelate, "legacy"),
    "jpeg_compression": (_jpeg_compression, "legacy"),
    "speckle_noise": (_speckle_noise, "legacy"),
    "gaussian_blur": (_gaussian_blur, "legacy"),
    "spatter": (_spatter, "legacy"),
    "saturate": (_saturate, "legacy"),
}

_DESCRIPTIONS = {
    "gaussian_noise": "additive Gaussian noise, sigma 0.08-0.38 of full range",
    "shot_noise": "Poisson photon noise, 60 down to 3 photons per unit intensity",
    "impulse_noise": "salt-and-pepper on 3-27% of values",
    "defocus_blur": "anti-aliased disk kernel, radius 3-10 px",
    "glass_blur": "Gaussian blur, local pixel shuffling (1-4 px), blur again",
    "motion_blur": "one-sided Gaussian motion streak of 21-41 px at a random angle",
    "zoom_blur": "average of centre zooms up to 1.10-1.30x",
    "snow": "motion-blurred snow layer over a brightened, greyed image",
    "frost": "blend with a procedural frost texture (not the package's photos)",
    "fog": "diamond-square plasma fog, contrast reduced",
    "brightness": "HSV value raised by 0.1-0.5",
    "contrast": "contrast scaled to 0.4-0.05 around the channel means",
    "elastic_transform": "smooth random displacement field; masks warped with it",
    "pixelate": "box downscale to 60-25% and nearest upscale",
    "jpeg_compression": "JPEG round trip at quality 25-7",
    "speckle_noise": "multiplicative Gaussian noise, sigma 0.15-0.6",
    "gaussian_blur": "Gaussian blur, sigma 1-6 px",
    "spatter": "water drops (1-3) or mud (4-5) splashes",
    "saturate": "HSV saturation scaled by 0.3, 0.1, 2, 5, 20",
}


def run_impl(name: str, image: np.ndarray, severity: int, rs_or_rng) -> np.ndarray:
    """The op's image output as uint8 with the reference's final ``np.uint8`` (truncation)."""
    out = IMPLS[name][0](image, severity, rs_or_rng)
    if out.dtype != np.uint8:
        out = F.to_uint8_trunc(out)
    return np.ascontiguousarray(out)


def _make(name: str):
    kind = IMPLS[name][1]

    def op(image, masks, severity, rng):
        src = F.legacy_state(rng) if kind == "legacy" else rng
        if name == "elastic_transform":
            out, masks = _elastic_transform_full(image, masks, severity, src)
            return F.to_uint8_trunc(out), masks
        return run_impl(name, image, severity, src), masks

    op.__name__ = name
    op.__doc__ = _DESCRIPTIONS[name]
    return op


for _name in IMPLS:
    register_corruption(FAMILY, _name, severities=SEVERITIES, description=_DESCRIPTIONS[_name],
                        geometric=_name == "elastic_transform")(_make(_name))
