"""ImageNet-C blur ops (gaussian, defocus, glass, motion, zoom), as ``imagecorruptions`` 1.1.2 computes them."""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from .. import _filters as F
from .._filters import STRIP, lerp


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


def _zoom_layers(h: int, w: int, zooms) -> list:
    """Per zoom, clipped_zoom's grid in whole-image coordinates: source rows (lower, upper) and
    row weights, nearest-remap column tables (lower, upper) for one strip, column weights (x3)."""
    layers = []
    for z in zooms:
        ch0, ch1 = int(np.ceil(h / float(z))), int(np.ceil(w / float(z)))
        top0, top1 = (h - ch0) // 2, (w - ch1) // 2
        r0, r1, fr = F.linear_zoom_grid(ch0, round(ch0 * z), h)  # ch * z rounds to >= h, w
        c0, c1, fc = F.linear_zoom_grid(ch1, round(ch1 * z), w)
        cols = [np.ascontiguousarray(np.broadcast_to((c + top1).astype(np.float32), (STRIP, w))) for c in (c0, c1)]
        layers.append((r0 + top0, r1 + top0, fr.astype(np.float32)[:, None, None], cols,
                       np.repeat(fc.astype(np.float32), 3).reshape(w, 3)))
    return layers


def _zoom_blur(x, severity, rs):
    """The reference's float32 operations in its order (per layer rows then columns, lo + (hi - lo)
    * f; layers summed in zoom order), done STRIP output rows at a time in reused buffers: rows
    are gathered whole (the crop's columns live in the column tables), columns by nearest remap."""
    zooms = _ZOOMS[severity - 1]
    h, w = x.shape[:2]
    xf = (x / 255.).astype(np.float32)
    layers = _zoom_layers(h, w, zooms)
    map_y = np.ascontiguousarray(np.broadcast_to(np.arange(STRIP, dtype=np.float32)[:, None], (STRIP, w)))
    lo, hi, clo, chi, acc = (np.empty((STRIP, w, 3), np.float32) for _ in range(5))
    out = np.empty((h, w, 3), np.uint8)
    for a in range(0, h, STRIP):
        b = min(a + STRIP, h)
        n = b - a
        total = acc[:n]
        total.fill(0)
        for r0, r1, fr, (m0, m1), fc in layers:
            # mode='clip' (indices are in range): with the default 'raise', take buffers ``out``
            rows = np.take(xf, r0[a:b], axis=0, out=lo[:n], mode='clip')
            below = np.take(xf, r1[a:b], axis=0, out=hi[:n], mode='clip')
            rows = lerp(rows, below, fr[a:b])
            left = cv2.remap(rows, m0[:n], map_y[:n], cv2.INTER_NEAREST, dst=clo[:n])
            right = cv2.remap(rows, m1[:n], map_y[:n], cv2.INTER_NEAREST, dst=chi[:n])
            total += lerp(left, right, fc)
        total += xf[a:b]
        total /= len(zooms) + 1
        np.clip(total, 0, 1, out=total)
        total *= 255
        out[a:b] = total  # truncation, the reference's np.uint8
    return out
