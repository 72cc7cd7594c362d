"""scikit-image's ``rgb2hsv`` -> (change v, s) -> ``hsv2rgb`` round trip on uint8 RGB, bit for bit
after the references' ``np.clip(x, 0, 1) * 255`` and ``np.uint8`` truncation, without building H, S, V.

Why it can be cheap and still exact: in skimage's ``hsv2rgb`` the channel holding the pixel's max gets
``v`` and the one holding its min gets ``p = v * (1 - s)``, which depend on (max, min) only; ties with
the max or min get exactly those values too (the hue lands on a sector boundary, where ``f`` is exactly
0 and ``q``, ``t`` reduce to the same products; a grey pixel is hue 0: red gets ``v``, green and blue
``p``). Only a strict middle channel needs the hue, and for it the float64 steps are replayed exactly:
numerator / delta, the sector's offset, ``/ 6``, ``% 1`` (+1 for red-max-blue-over-green), ``* 6`` and
``f`` or ``1 - f`` (as ``|h * 6 - k|``, exact, since ``h * 6 - floor`` is exact).
Verified on all 2^24 colours against imagecorruptions' brightness and saturate (all severities).
"""
from __future__ import annotations

import cv2
import numpy as np

_UNIT = np.arange(256) / 255.  # x / 255. per level: skimage's float input
_V_DIV = np.where(np.arange(256) == 0, 1.0, _UNIT)  # divisor for s = delta / v; black: 0 / 1 = skimage's 0
_MIN_DELTA = 0.5 / 255  # below any nonzero delta: only greys (no middle channel) are changed
_STRIP_PIXELS = 48 << 10  # 3 float64 planes of a strip: 1.2 MB, about L2


def _sector_tables() -> tuple[np.ndarray, ...]:
    """Per code ``(r > g) | (g > b) << 1 | (b > r) << 2`` of a pixel with distinct channels, the
    hue sector's constants: h0 = offset + sign * num / delta (num = middle - min, as skimage's channel
    differences), wrap (+1) for sector 5, and k' with f or 1 - f = |h * 6 - k'|."""
    offset, sign, wrap, k_abs = (np.zeros(256) for _ in range(4))
    for order, k in (("rgb", 0), ("grb", 1), ("gbr", 2), ("bgr", 3), ("brg", 4), ("rbg", 5)):
        rank = {c: 2 - order.index(c) for c in "rgb"}  # 2 = max
        code = (rank["r"] > rank["g"]) | (rank["g"] > rank["b"]) << 1 | (rank["b"] > rank["r"]) << 2
        odd = k % 2 == 1
        offset[code] = (0, 2, 2, 4, 4, 0)[k]
        sign[code] = -1.0 if odd else 1.0
        wrap[code] = 1.0 if k == 5 else 0.0
        k_abs[code] = k if odd else k + 1
    return offset, sign, wrap, k_abs


_OFFSET, _SIGN, _WRAP, _K_ABS = _sector_tables()


def hsv_roundtrip_uint8(x: np.ndarray, v_new: np.ndarray, s_scale: float = 1, s_offset: float = 0) -> np.ndarray:
    """``np.uint8(np.clip(hsv2rgb(hsv), 0, 1) * 255)`` where ``hsv = rgb2hsv(x / 255.)`` with
    ``v <- v_new[max level]`` (256 floats in [0, 1]) and ``s <- clip(s * s_scale + s_offset, 0, 1)``.
    Works in strips of about ``_STRIP_PIXELS`` on scratch allocated once, so its float64 planes stay
    in L2 cache and no image-sized temporaries are faulted in."""
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    rows = max(1, _STRIP_PIXELS // x.shape[1])
    strip = (min(rows, x.shape[0]), x.shape[1])
    u8, f64 = np.empty((12,) + strip, np.uint8), np.empty((3,) + strip)
    hi_lut = (v_new * 255).astype(np.uint8)
    for r0 in range(0, x.shape[0], rows):
        n = min(rows, x.shape[0] - r0)
        _roundtrip_rows(x[r0:r0 + n], out[r0:r0 + n], v_new, hi_lut, s_scale, s_offset, u8[:, :n], f64[:, :n])
    return out


def _roundtrip_rows(x, out, v_new, hi_lut, s_scale, s_offset, u8, f64) -> None:
    """One strip: per pixel max, min, middle and hue-sector code in uint8, the float64 middle and min
    values, then each channel takes v, p or the middle value by whether it equals the max or min."""
    r, g, b, hi, lo, mid, code, mid_out, lo_out, hi_out, t1, t2 = u8
    cv2.split(x, [r, g, b])
    cv2.max(cv2.max(r, g, dst=hi), b, dst=hi)
    cv2.min(cv2.min(r, g, dst=lo), b, dst=lo)
    cv2.max(cv2.min(r, g, dst=t1), cv2.min(cv2.max(r, g, dst=t2), b, dst=t2), dst=mid)
    code[:] = 0
    for bit, (p, q) in ((1, (r, g)), (2, (g, b)), (4, (b, r))):
        code |= np.bitwise_and(cv2.compare(p, q, cv2.CMP_GT, dst=t1), bit, out=t1)
    _middle_and_min(hi, lo, mid, code, v_new, s_scale, s_offset, f64, mid_out, lo_out)
    cv2.LUT(hi, hi_lut, dst=hi_out)
    for c, red in ((r, True), (g, False), (b, False)):
        fills = [(hi_out, cv2.compare(c, hi, cv2.CMP_EQ, dst=t1)), (lo_out, cv2.compare(c, lo, cv2.CMP_EQ, dst=t2))]
        np.copyto(c, mid_out)
        for src, mask in fills[::-1] if red else fills:  # the later wins on greys: red gets v, the others p
            cv2.copyTo(src, mask, dst=c)
    cv2.merge([r, g, b], dst=out)


def _middle_and_min(hi, lo, mid, code, v_new, s_scale, s_offset, f64, mid_out, lo_out) -> None:
    """The middle channel's ``t`` or ``q`` and the min channel's ``p``, with skimage's float64 steps,
    as truncated uint8 of ``* 255``; ``clip(.., 0, 1)`` is a no-op (v, s, f in [0, 1])."""
    a, delta, h = f64
    cv2.LUT(lo, _UNIT, dst=a)
    cv2.subtract(cv2.LUT(hi, _UNIT, dst=delta), a, dst=delta)
    cv2.subtract(cv2.LUT(mid, _UNIT, dst=h), a, dst=h)  # middle - min: skimage's numerator up to sign
    s = np.divide(delta, cv2.LUT(hi, _V_DIV, dst=a), out=a)
    if s_scale != 1 or s_offset != 0:
        s *= s_scale
        s += s_offset
        np.minimum(s, 1, out=s)  # s * scale + offset >= 0: the lower clip is a no-op

    h /= np.maximum(delta, _MIN_DELTA, out=delta)
    tmp = delta
    h *= cv2.LUT(code, _SIGN, dst=tmp)
    h += cv2.LUT(code, _OFFSET, dst=tmp)
    h /= 6.0
    h += cv2.LUT(code, _WRAP, dst=tmp)  # (h / 6) % 1 for the one sector where h < 0
    h *= 6
    h -= cv2.LUT(code, _K_ABS, dst=tmp)
    w = np.abs(h, out=h)  # f or 1 - f

    v = cv2.LUT(hi, v_new, dst=tmp)
    w *= s
    np.subtract(1, w, out=w)
    w *= v
    w *= 255
    np.copyto(mid_out, w, casting="unsafe")
    np.subtract(1, s, out=s)
    s *= v
    s *= 255
    np.copyto(lo_out, s, casting="unsafe")
