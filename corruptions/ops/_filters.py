"""Shared array helpers for the corruption ops: kernels, warps and seeding bridges.

Everything here is deterministic and independent of OpenCV's thread count (separable and
small direct filters, remap with explicit float maps).
"""
from __future__ import annotations

import math

import cv2
import numpy as np


def legacy_state(rng: np.random.Generator) -> np.random.RandomState:
    """A legacy RandomState seeded from ``rng``: ops that reproduce a reference drawing from the
    global ``np.random`` state draw from this, in the reference's order."""
    return np.random.RandomState(int(rng.integers(0, 2**32, dtype=np.uint64)))


def gaussian_kernel1d(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """The 1-D kernel of ``scipy.ndimage.gaussian_filter`` (radius ``int(truncate*sigma+0.5)``)."""
    radius = int(truncate * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    phi = np.exp(-0.5 / (float(sigma) ** 2) * x**2)
    return phi / phi.sum()


def gaussian_blur(a: np.ndarray, sigma_y: float, sigma_x: float, border: int, truncate: float = 4.0) -> np.ndarray:
    """Separable Gaussian with scipy's kernel; ``border`` is a cv2 border mode
    (BORDER_REPLICATE = scipy 'nearest', BORDER_REFLECT = scipy 'reflect')."""
    ky = gaussian_kernel1d(sigma_y, truncate).astype(a.dtype if a.dtype == np.float64 else np.float32)
    kx = gaussian_kernel1d(sigma_x, truncate).astype(ky.dtype)
    ddepth = cv2.CV_64F if a.dtype == np.float64 else cv2.CV_32F
    return _sep_filter(a, ddepth, kx, ky, border)


def _correlate_symmetric(src: np.ndarray, axis: int, k: np.ndarray, dst: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    """scipy correlate1d's sum for a symmetric kernel along ``axis``, in its order: ``c * k0``, then
    ``+= (left_j + right_j) * k_j`` from the outermost tap in. ``src`` has r extra samples each side."""
    r, n = len(k) // 2, dst.shape[axis]

    def tap(j: int) -> np.ndarray:
        return src[(slice(None),) * axis + (slice(r + j, r + j + n),)]

    np.multiply(tap(0), k[r], out=dst)
    for j in range(r, 0, -1):
        dst += np.multiply(np.add(tap(-j), tap(j), out=tmp), k[r - j], out=tmp)
    return dst


def scipy_gaussian_u8(x: np.ndarray, sigma: float, out: np.ndarray, strip: int = 32) -> np.ndarray:
    """``uint8(scipy.ndimage.gaussian_filter(x / 255., (sigma, sigma, 0), mode='nearest') * 255)`` bit
    for bit, into ``out`` (uint8 HxWxC, may be a view). The result is truncated, so on flat areas and
    ramps (exact value on an integer) only scipy's own rounding gives its grey level: this repeats
    correlate1d's arithmetic (rows, then columns, float64), a strip of rows at a time in cache."""
    x = np.ascontiguousarray(x)  # np.take copies a non-contiguous input whole, per strip
    k = gaussian_kernel1d(sigma)
    r = len(k) // 2
    h, w = x.shape[:2]
    rest = x.shape[2:]
    rows_u8 = np.empty((strip + 2 * r, w) + rest, np.uint8)
    rows = np.empty((strip + 2 * r, w) + rest)
    cols = np.empty((strip, w + 2 * r) + rest)  # the row pass, edge-padded for the column pass
    acc, tmp = np.empty((strip, w) + rest), np.empty((strip, w) + rest)
    for a in range(0, h, strip):
        n = min(a + strip, h) - a
        near = np.clip(np.arange(a - r, a + n + r), 0, h - 1)  # mode='nearest' rows
        src = np.divide(np.take(x, near, axis=0, out=rows_u8[:n + 2 * r], mode="clip"), 255., out=rows[:n + 2 * r])
        _correlate_symmetric(src, 0, k, cols[:n, r:r + w], tmp[:n])
        cols[:n, :r] = cols[:n, r:r + 1]
        cols[:n, r + w:] = cols[:n, r + w - 1:r + w]
        res = _correlate_symmetric(cols[:n], 1, k, acc[:n], tmp[:n])
        res *= 255
        out[a:a + n] = res  # truncation
    return out


def _sep_filter(a: np.ndarray, ddepth: int, kx: np.ndarray, ky: np.ndarray, border: int) -> np.ndarray:
    # cv2's border handling needs the kernel radius below the image side; pad by hand otherwise.
    ry, rx = len(ky) // 2, len(kx) // 2
    h, w = a.shape[:2]
    if ry < h and rx < w:
        return cv2.sepFilter2D(a, ddepth, kx, ky, borderType=border)
    mode = {cv2.BORDER_REPLICATE: "edge", cv2.BORDER_REFLECT: "symmetric", cv2.BORDER_REFLECT_101: "reflect"}[border]
    pad = ((ry, ry), (rx, rx)) + ((0, 0),) * (a.ndim - 2)
    big = np.pad(a, pad, mode=mode)
    out = cv2.sepFilter2D(big, ddepth, kx, ky, borderType=border)
    return np.ascontiguousarray(out[ry:ry + h, rx:rx + w])


def shift_kernel(offsets: list[tuple[int, int]], weights: np.ndarray, dtype) -> tuple[np.ndarray, tuple[int, int]]:
    """A 2-D correlation kernel whose output is sum_i w_i * src[y - dy_i, x - dx_i], and its anchor."""
    dys = [o[0] for o in offsets]
    dxs = [o[1] for o in offsets]
    ay, ax = max(dys), max(dxs)
    k = np.zeros((ay - min(dys) + 1, ax - min(dxs) + 1), dtype=dtype)
    for (dy, dx), wgt in zip(offsets, weights):
        k[ay - dy, ax - dx] += wgt
    return k, (ax, ay)


def imagenet_c_motion_offsets(shape: tuple[int, int], radius: int, sigma: float, angle: float):
    """Offsets and weights of imagecorruptions' ``_motion_blur`` (shifted copies with edge
    replication, stopping where the motion leaves the image)."""
    width = radius * 2 + 1
    k = np.exp(-np.arange(width) ** 2 / (2 * sigma**2)) / (np.sqrt(2 * np.pi) * sigma)
    k = k / np.sum(k)
    point = (width * np.sin(np.deg2rad(angle)), width * np.cos(np.deg2rad(angle)))
    hypot = math.hypot(point[0], point[1])
    offsets, weights = [], []
    for i in range(width):
        dy = -math.ceil(((i * point[0]) / hypot) - 0.5)
        dx = -math.ceil(((i * point[1]) / hypot) - 0.5)
        if abs(dy) >= shape[0] or abs(dx) >= shape[1]:
            break
        offsets.append((dy, dx))
        weights.append(k[i])
    return offsets, np.asarray(weights)


def filter_replicate(a: np.ndarray, kernel: np.ndarray, anchor: tuple[int, int]) -> np.ndarray:
    """Correlate with a small kernel, replicated borders, in ``a``'s float precision."""
    ddepth = cv2.CV_64F if a.dtype == np.float64 else cv2.CV_32F
    kh, kw = kernel.shape
    h, w = a.shape[:2]
    if kh <= h and kw <= w:
        return cv2.filter2D(a, ddepth, kernel, anchor=anchor, borderType=cv2.BORDER_REPLICATE)
    ax, ay = anchor
    pad = ((ay, kh - 1 - ay), (ax, kw - 1 - ax)) + ((0, 0),) * (a.ndim - 2)
    big = np.pad(a, pad, mode="edge")
    out = cv2.filter2D(big, ddepth, kernel, anchor=anchor, borderType=cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(out[ay:ay + h, ax:ax + w])


def linear_zoom_grid(n_in: int, n_out: int, n_keep: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower and upper source index and (float64) weight of the first ``n_keep`` samples of a linear
    resampling from ``n_in`` to ``n_out`` samples on scipy.ndimage.zoom's grid (corners aligned)."""
    scale = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    c = np.arange(n_keep, dtype=np.float64) * scale
    i0 = np.minimum(np.floor(c).astype(np.intp), n_in - 1)
    return i0, np.minimum(i0 + 1, n_in - 1), c - i0


def scipy_zoom_taps(n_in: int, n_out: int, n_keep: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scipy.ndimage.zoom's order-1 taps (lower, upper) and weights for the first ``n_keep``
    outputs (grid_mode=False, mode='constant', cval 0): ``w0 = 1 - t`` and ``w1 = 1 - w0`` as its
    spline code computes them, and both 0 where round-off puts the coordinate past the last sample
    (``k * (n_in - 1) / (n_out - 1) > n_in - 1``): constant mode outputs cval there."""
    i0, i1, t = linear_zoom_grid(n_in, n_out, n_keep)
    w0 = 1.0 - t
    w1 = 1.0 - w0
    outside = i0 + t > n_in - 1
    w0[outside] = 0.0
    w1[outside] = 0.0
    return i0, i1, w0, w1


def clipped_zoom(a: np.ndarray, z: float) -> np.ndarray:
    """imagecorruptions' clipped_zoom of a 2-D float64 array: crop the centre 1/z and zoom it back
    up with scipy's order-1 arithmetic term for term (``((v00 w0) w0' + (v01 w0) w1') + (v10 w1) w0'
    + (v11 w1) w1'``, float64), so it equals ``scipy.ndimage.zoom(crop, z, order=1)`` bit for bit:
    the snow op thresholds this layer, where one ulp can switch a flake on."""
    h, w = a.shape
    ch0, ch1 = int(np.ceil(h / float(z))), int(np.ceil(w / float(z)))
    top0, top1 = (h - ch0) // 2, (w - ch1) // 2
    crop = a[top0:top0 + ch0, top1:top1 + ch1]
    n0, n1 = int(round(ch0 * z)), int(round(ch1 * z))
    r0, r1, wr0, wr1 = scipy_zoom_taps(ch0, n0, n0)
    c0, c1, wc0, wc1 = scipy_zoom_taps(ch1, n1, n1)
    top = crop[r0] * wr0[:, None]
    bottom = crop[r1] * wr1[:, None]
    out = np.take(top, c0, axis=1)
    out *= wc0
    for rows, cols, wc in ((top, c1, wc1), (bottom, c0, wc0), (bottom, c1, wc1)):
        term = np.take(rows, cols, axis=1)
        term *= wc
        out += term
    return out


def remap_masks(masks: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, border: int) -> np.ndarray:
    """Warp a bool (N, H, W) stack with nearest-neighbour sampling on the given maps, eight
    masks per uint8 bit-plane (nearest sampling copies values, so bits never mix)."""
    n = masks.shape[0]
    if n == 0:
        return masks.copy()
    out = np.empty((n,) + map_x.shape, dtype=bool)
    for start in range(0, n, 8):
        group = masks[start:start + 8]
        packed = np.zeros(group.shape[1:], dtype=np.uint8)
        for b, m in enumerate(group):
            packed |= m.astype(np.uint8) << b
        warped = cv2.remap(packed, map_x, map_y, interpolation=cv2.INTER_NEAREST, borderMode=border)
        for b in range(group.shape[0]):
            out[start + b] = (warped >> b) & 1
    return out


def to_uint8_trunc(a: np.ndarray) -> np.ndarray:
    """``np.uint8(x)`` on a float array already clipped to [0, 255]: truncation, as the references do."""
    return a.astype(np.uint8)


STRIP = 32  # rows per band of the banded ImageNet-C ops (even: fog interleaves row pairs): temporaries stay in cache


def lerp(lo: np.ndarray, hi: np.ndarray, f: np.ndarray) -> np.ndarray:
    """lo + (hi - lo) * f into ``lo`` (``hi`` is overwritten); exactly lo where hi == lo."""
    hi -= lo
    hi *= f
    lo += hi
    return lo
