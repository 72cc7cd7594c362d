"""ImageNet-C digital ops (contrast, brightness, saturate, JPEG, pixelate, elastic), as ``imagecorruptions``
1.1.2 computes them."""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from .. import _filters as F
from .._filters import STRIP, lerp
from .._hsv import hsv_roundtrip_uint8


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
    reference's warp, STRIP rows at a time in reused buffers: the four corners gathered by nearest
    remap (BORDER_REFLECT is scipy's 'reflect' on the integer taps), lerped in float32. Flat corners
    give their value exactly, as scipy's float64 sum rounded to float32 does; elsewhere the two
    agree to float32 round-off (< 1e-5 of the values truncate differently)."""
    h, w = x.shape[:2]
    xf = x.astype(np.float32) / np.float32(255.)
    out = np.empty((h, w, 3), np.uint8)
    gx = np.arange(w, dtype=np.float32)
    x0, y0, x1, y1, fx, fy = (np.empty((STRIP, w), np.float32) for _ in range(6))
    tl, tr, bl, br, fx3, fy3 = (np.empty((STRIP, w, 3), np.float32) for _ in range(6))
    for a in range(0, h, STRIP):
        b = min(a + STRIP, h)
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
        top = lerp(corners[0], corners[1], wx)
        bottom = lerp(corners[2], corners[3], wx)
        val = lerp(top, bottom, wy)
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
