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


def linear_zoom_axis(a: np.ndarray, axis: int, n_out: int, n_keep: int) -> np.ndarray:
    """Linear resampling along ``axis`` with scipy.ndimage.zoom's grid (grid_mode=False: corners
    aligned), keeping only the first ``n_keep`` output samples."""
    n_in = a.shape[axis]
    scale = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    c = np.arange(n_keep, dtype=np.float64) * scale
    i0 = np.minimum(np.floor(c).astype(np.intp), n_in - 1)
    f = (c - i0).astype(a.dtype)
    i1 = np.minimum(i0 + 1, n_in - 1)
    shape = [1] * a.ndim
    shape[axis] = n_keep
    lo = np.take(a, i0, axis=axis)
    hi = np.take(a, i1, axis=axis)
    np.subtract(hi, lo, out=hi)
    np.multiply(hi, f.reshape(shape), out=hi)
    np.add(lo, hi, out=lo)
    return lo


def clipped_zoom(a: np.ndarray, z: float, keep: tuple[int, int] | None = None) -> np.ndarray:
    """imagecorruptions' clipped_zoom: crop the centre 1/z of the image and zoom it back up
    (bilinear, corner-aligned), optionally keeping only the top-left ``keep`` block."""
    h, w = a.shape[:2]
    ch0 = int(np.ceil(h / float(z)))
    top0 = (h - ch0) // 2
    ch1 = int(np.ceil(w / float(z)))
    top1 = (w - ch1) // 2
    crop = a[top0:top0 + ch0, top1:top1 + ch1]
    n0, n1 = int(round(ch0 * z)), int(round(ch1 * z))
    k0, k1 = keep if keep is not None else (n0, n1)
    rows = linear_zoom_axis(crop, 0, n0, min(k0, n0))
    return linear_zoom_axis(rows, 1, n1, min(k1, n1))


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
