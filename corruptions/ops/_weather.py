"""imgaug 0.4.0's weather layers (Snowflakes, Rain, Fog/CloudLayer) rebuilt on numpy/OpenCV.

The same pipeline and parameter distributions as imgaug (salt noise gated by Beta noise, cubic
upscale, Gaussian and one-sided motion blur, gamma, sum+max blend for snow; alpha blend for rain;
frequency-noise alpha and intensity maps for fog), drawing from the corruption rng instead of
imgaug's global RNG. Not bit-equal to imgaug (different random streams), same look. For speed,
the layer noise is smeared at its own (small) scale before one upscaling warp, and the blends are
uint8 LUT/OpenCV passes over the image instead of float copies of it.
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np


def _u(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    return float(rng.uniform(*lo_hi))


def _resize_cubic(a: np.ndarray, h: int, w: int) -> np.ndarray:
    return a if a.shape[:2] == (h, w) else cv2.resize(a, (w, h), interpolation=cv2.INTER_CUBIC)


def _salt_gated(h: int, w: int, density: float, density_uniformity: float, rng) -> np.ndarray:
    """Salt on black (values 128-255 where hit) multiplied by an 8x8 Beta(1, 1-u) gate, cubic-upscaled.
    One uniform draw per pixel: a hit is ``u < density``, and then ``u / density`` is uniform again,
    so the salt's Beta(0.5, 0.5) value is ``(1 - cos(pi u / density)) / 2`` (arcsine law), computed
    on the hits only."""
    u = rng.random(h * w, dtype=np.float32)
    hit = np.flatnonzero(u < density)
    gate = rng.beta(1.0, max(1.0 - density_uniformity, 1e-3), size=(8, 8)).astype(np.float32)
    gate = np.clip(_resize_cubic(gate, h, w), 0.0, 1.0).ravel()
    salt = np.abs(np.cos(u[hit] * np.float32(np.pi / density)))  # 2 |beta - 0.5|
    salt += 1
    salt *= gate[hit] * np.float32(127.5)  # (0.5 + |beta - 0.5|) * 255 * gate
    out = np.zeros(h * w, dtype=np.uint8)
    out[hit] = salt
    return out.reshape(h, w)


def _streaks(h: int, w: int, rng, density, density_uniformity, flake_size, k: int, angle: float) -> np.ndarray:
    """imgaug's layer noise (salt gated by Beta noise at ``1 - flake_size`` scale, cubic upscale)
    smeared by its one-sided motion kernel of ``k`` px at ``angle``, as uint8 HxW. imgaug upscales,
    then filters with the rotated k x k kernel; both are linear, so here the noise is drawn in a
    frame turned by ``angle`` at the small scale, smeared along its columns by the 1-D kernel (length
    scaled alike) and brought to the image by one cubic warp: the same streaks, on a tenth of the
    pixels."""
    s = float(np.clip(1.0 - flake_size, 0.001, 1.0))
    rad = np.deg2rad(-angle)  # imgaug turns its kernel by -angle (cv2 convention)
    cos, sin = np.cos(rad), np.sin(rad)
    fh = max(1, int((h * abs(cos) + w * abs(sin)) * s))  # the turned image's bounding box
    fw = max(1, int((w * abs(cos) + h * abs(sin)) * s))
    noise = _salt_gated(fh, fw, density, density_uniformity, rng)
    kf = round(k * s)
    if kf >= 2:  # imgaug MotionBlur(direction=1): weights falling linearly from 1 to 0 along the motion
        ramp = np.linspace(1.0, 0.0, num=kf, dtype=np.float32)[:, None]
        noise = cv2.filter2D(noise, -1, ramp / ramp.sum(), anchor=(0, kf // 2), borderType=cv2.BORDER_REFLECT_101)
    if angle == 0:
        return _resize_cubic(noise, h, w)
    # image pixel (x, y) -> frame: rotate about the centres, scale by s
    m = s * np.array([[cos, -sin], [sin, cos]])
    t = np.array([(fw - 1) / 2, (fh - 1) / 2]) - m @ np.array([(w - 1) / 2, (h - 1) / 2])
    return cv2.warpAffine(noise, np.hstack([m, t[:, None]]), (w, h), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REFLECT_101)


def _rgb(plane: np.ndarray) -> np.ndarray:
    return cv2.merge([plane, plane, plane])


def snowflakes_layer(image, rng, *, density, density_uniformity, flake_size, flake_size_uniformity, angle, speed):
    du, fs, fsu = _u(rng, density_uniformity), _u(rng, flake_size), _u(rng, flake_size_uniformity)
    ang, spd, blur_frac = _u(rng, angle), _u(rng, speed), _u(rng, (0.0001, 0.001))
    h, w = image.shape[:2]
    size = max(h, w)
    noise = _streaks(h, w, rng, density, du, fs, int(spd * size), ang)
    sigma = float(np.clip(size * blur_frac, 0.5, 3.75))
    noise = cv2.GaussianBlur(noise, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
    # flakes = gamma(noise) * gain_adj; imgaug adds (0.1 + 20 speed) * flakes to the image, then takes
    # the max with (1 + 20 speed) * flakes, truncating to uint8: integer image + float = two uint8 LUTs.
    gain, gain_adj = 1.0 + 2 * (1 - fsu), 1.0 + 5 * (1 - fsu)
    flakes = np.round(255 * (np.arange(256) / 255.0) ** gain) * gain_adj
    add = np.clip((0.1 + 20 * spd) * flakes, 0, 255).astype(np.uint8)
    top = np.clip((1.0 + 20 * spd) * flakes, 0, 255).astype(np.uint8)
    out = cv2.add(image, _rgb(cv2.LUT(noise, add)))
    return cv2.max(out, _rgb(cv2.LUT(noise, top)), dst=out)


def rain_layer(image, rng, *, drop_size, speed):
    density, du = _u(rng, (0.03, 0.14)), _u(rng, (0.8, 1.0))
    ds, _dsu = _u(rng, drop_size), _u(rng, (0.2, 0.5))  # drop_size_uniformity only feeds snow's gamma
    ang, spd = _u(rng, (-15, 15)), _u(rng, speed)
    h, w = image.shape[:2]
    noise = _streaks(h, w, rng, density, du, ds, int(spd * max(h, w)), ang)
    # alpha = min(1.3 noise / 255, 1) towards imgaug's drop colour, 110 + 130 % sum(first 1000 noise
    # values): 240 for any visible rain. As uint8: image * keep / 255 + 240 * (1 - keep / 255).
    keep = np.round(255 - np.minimum(1.3 * np.arange(256), 255)).astype(np.uint8)
    keep = cv2.LUT(noise, keep)
    out = cv2.multiply(image, _rgb(keep), scale=1 / 255)
    drop = np.round(240 * (1 - np.arange(256) / 255)).astype(np.uint8)
    return cv2.add(out, _rgb(cv2.LUT(keep, drop)), dst=out)


@lru_cache(maxsize=8)
def _spectrum_distance(hs: int, ws: int) -> np.ndarray:
    """Distance of each FFT bin from the zero frequency (wrapped), 1 at the origin, float32."""
    yy = np.minimum(np.arange(hs), hs - np.arange(hs))[:, None]
    xx = np.minimum(np.arange(ws), ws - np.arange(ws))[None, :]
    dist = np.sqrt(yy**2 + xx**2).astype(np.float32)
    dist[0, 0] = 1
    return dist


def frequency_noise(h: int, w: int, exponent: float, size_px_max: int, rng) -> np.ndarray:
    """imgaug FrequencyNoise: random spectrum weighted by distance**exponent, inverse FFT,
    normalised to [0, 1] at <= size_px_max px, returned as uint8 levels of that (x 255,
    truncated, as imgaug quantises it) cubic-upscaled to h x w. Single precision: the noise is
    quantised to 256 levels anyway."""
    maxlen = max(h, w)
    if maxlen > size_px_max:
        f = size_px_max / maxlen
        hs, ws = max(int(h * f), 4), max(int(w * f), 4)
    else:
        hs, ws = max(h, 4), max(w, 4)
    r = rng.random((hs, ws), dtype=np.float32)
    r *= np.float32(max(hs, ws) ** 2)
    a = rng.random((hs, ws), dtype=np.float32)
    a *= np.float32(2 * np.pi)
    scale = _spectrum_distance(hs, ws) ** np.float32(exponent)
    scale[0, 0] = 0
    spec = np.empty((hs, ws), dtype=np.complex64)
    spec.real = r * np.cos(a)
    spec.imag = spec.real * np.sin(a)  # imgaug reuses the already-rotated real part here
    spec *= scale
    inv = np.fft.ifft2(spec).real
    lo, span = inv.min(), inv.max() - inv.min()
    inv -= lo
    inv *= np.float32(255 / span) if span > 0 else np.float32(0)
    return _resize_cubic(inv.astype(np.uint8), h, w)


_FINE_MAX = 512  # imgaug draws the fine intensity spectrum at full size; 512 px looks the same, 10x cheaper


def cloud_layer(image, rng):
    """imgaug Fog(): one CloudLayer, intensity 220-255, alpha_min 0.7-0.9, dense and low-frequency.
    Intensity and alpha are single-channel uint8 maps (alpha a LUT of the uint8 alpha noise), blended
    as image * (1 - alpha) + alpha * intensity in uint8 arithmetic."""
    h, w = image.shape[:2]
    mean = _u(rng, (220, 255))
    alpha_min = _u(rng, (0.7, 0.9))
    density = _u(rng, (0.4, 0.9))
    coarse = np.clip(np.round(mean + rng.normal(0, 2, size=(8, 8))), 0, 255).astype(np.uint8)
    fine = frequency_noise(h, w, _u(rng, (-2.0, -1.5)), _FINE_MAX, rng)
    # intensity = coarse + mean * (2 fine / 255 - 1) / 5, saturated to uint8
    intensity = cv2.addWeighted(fine, 0.4 * mean / 255, _resize_cubic(coarse, h, w), 1.0, -0.2 * mean)
    local = frequency_noise(h, w, _u(rng, (-4.0, -2.0)), int(rng.integers(2, 9)), rng)
    alpha = np.clip(((alpha_min + 0.3 * np.arange(256) / 255) ** 0.9) * density, 0.0, 1.0)
    alpha = cv2.LUT(local, np.round(255 * alpha).astype(np.uint8))
    out = cv2.multiply(image, _rgb(cv2.subtract(255, alpha)), scale=1 / 255)
    return cv2.add(out, _rgb(cv2.multiply(alpha, intensity, scale=1 / 255)), dst=out)
