"""imgaug 0.4.0's weather layers (Snowflakes, Rain, Fog/CloudLayer) rebuilt on numpy/OpenCV.

The same pipeline and parameter distributions as imgaug (salt noise gated by Beta noise, cubic
upscale, Gaussian and one-sided motion blur, gamma, sum+max blend for snow; alpha blend for rain;
frequency-noise alpha and intensity maps for fog), drawing from the corruption rng instead of
imgaug's global RNG. Not bit-equal to imgaug (different random streams), same look.
"""
from __future__ import annotations

import cv2
import numpy as np


def _u(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    return float(rng.uniform(*lo_hi))


def _resize_cubic(a: np.ndarray, h: int, w: int) -> np.ndarray:
    return a if a.shape[:2] == (h, w) else cv2.resize(a, (w, h), interpolation=cv2.INTER_CUBIC)


def _one_sided_motion_kernel(k: int, angle: float) -> np.ndarray:
    """imgaug MotionBlur(direction=1): a vertical line fading from 1 to 0, rotated by ``angle``."""
    m = np.zeros((k, k), dtype=np.float32)
    m[:, k // 2] = np.linspace(1.0, 0.0, num=k)
    if angle != 0:
        rot = cv2.getRotationMatrix2D(((k - 1) / 2, (k - 1) / 2), -angle, 1.0)
        m = cv2.warpAffine(m, rot, (k, k), flags=cv2.INTER_LINEAR)
    s = m.sum()
    return m / s if s > 0 else m


def _salt_gated(h: int, w: int, density: float, density_uniformity: float, rng) -> np.ndarray:
    """Salt on black (values 128-255 where hit) multiplied by an 8x8 Beta(1, 1-u) gate, cubic-upscaled."""
    hit = rng.random((h, w)) < density
    beta = rng.beta(0.5, 0.5, size=(h, w))
    salt = np.where(hit, (0.5 + np.abs(beta - 0.5)) * 255, 0).astype(np.uint8)
    gate = rng.beta(1.0, max(1.0 - density_uniformity, 1e-3), size=(8, 8)).astype(np.float32)
    gate = np.clip(_resize_cubic(gate, h, w), 0.0, 1.0)
    return np.clip(salt.astype(np.float32) * gate, 0, 255).astype(np.uint8)


def _layer_noise(image, rng, density, density_uniformity, flake_size):
    h, w = image.shape[:2]
    down = float(np.clip(1.0 - flake_size, 0.001, 1.0))
    noise = _salt_gated(max(1, int(h * down)), max(1, int(w * down)), density, density_uniformity, rng)
    noise = _resize_cubic(noise, h, w)
    return noise, max(h, w)


def _motion(noise: np.ndarray, size: int, speed: float, angle: float) -> np.ndarray:
    k = int(speed * size)
    if k <= 1:
        return noise
    return cv2.filter2D(noise, -1, _one_sided_motion_kernel(max(k, 3), angle), borderType=cv2.BORDER_REFLECT_101)


def snowflakes_layer(image, rng, *, density, density_uniformity, flake_size, flake_size_uniformity, angle, speed):
    du, fs, fsu = _u(rng, density_uniformity), _u(rng, flake_size), _u(rng, flake_size_uniformity)
    ang, spd, blur_frac = _u(rng, angle), _u(rng, speed), _u(rng, (0.0001, 0.001))
    noise, size = _layer_noise(image, rng, density, du, fs)
    sigma = float(np.clip(size * blur_frac, 0.5, 3.75))
    noise = cv2.GaussianBlur(noise, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
    noise = _motion(noise, size, spd, ang)
    gain = 1.0 + 2 * (1 - fsu)
    gain_adj = 1.0 + 5 * (1 - fsu)
    gamma_lut = np.clip(np.round(255 * (np.arange(256) / 255.0) ** gain), 0, 255).astype(np.uint8)
    flakes = cv2.LUT(noise, gamma_lut).astype(np.float32)[..., None] * np.float32(gain_adj)
    out = np.clip(image.astype(np.float32) + (0.1 + 20 * spd) * flakes, 0, 255).astype(np.uint8)
    return np.clip(np.maximum(out.astype(np.float32), (1.0 + 20 * spd) * flakes), 0, 255).astype(np.uint8)


def rain_layer(image, rng, *, drop_size, speed):
    density, du = _u(rng, (0.03, 0.14)), _u(rng, (0.8, 1.0))
    ds, _dsu = _u(rng, drop_size), _u(rng, (0.2, 0.5))  # drop_size_uniformity only feeds snow's gamma
    ang, spd = _u(rng, (-15, 15)), _u(rng, speed)
    noise, size = _layer_noise(image, rng, density, du, ds)
    noise = _motion(noise, size, spd, ang)
    # imgaug's drop colour is 110 + 130 % sum(first 1000 noise values): 240 for any visible rain.
    a = np.clip(1.3 * noise.astype(np.float32) / 255.0, 0, 1.0)[..., None]
    return np.clip((1 - a) * image.astype(np.float32) + a * 240.0, 0, 255).astype(np.uint8)


def frequency_noise(h: int, w: int, exponent: float, size_px_max: int, rng) -> np.ndarray:
    """imgaug FrequencyNoise: random spectrum weighted by distance**exponent, inverse FFT,
    normalised to [0, 1] at <= size_px_max px, cubic-upscaled through uint8."""
    maxlen = max(h, w)
    if maxlen > size_px_max:
        f = size_px_max / maxlen
        hs, ws = max(int(h * f), 4), max(int(w * f), 4)
    else:
        hs, ws = max(h, 4), max(w, 4)
    r = rng.random((hs, ws)) * (max(hs, ws) ** 2)
    a = rng.random((hs, ws)) * 2 * np.pi
    re = r * np.cos(a)
    im = re * np.sin(a)  # imgaug reuses the already-rotated real part here
    yy = np.minimum(np.arange(hs), hs - np.arange(hs))[:, None]
    xx = np.minimum(np.arange(ws), ws - np.arange(ws))[None, :]
    dist = np.sqrt(yy**2 + xx**2)
    dist[0, 0] = 1
    scale = dist**exponent
    scale[0, 0] = 0
    inv = np.fft.ifft2((re + 1j * im) * scale).real
    span = inv.max() - inv.min()
    noise = (inv - inv.min()) / (span if span > 0 else 1.0)
    if (hs, ws) != (h, w):
        noise = _resize_cubic((noise * 255).astype(np.uint8), h, w).astype(np.float32) / 255.0
    return noise.astype(np.float32)


_FINE_MAX = 512  # imgaug draws the fine intensity spectrum at full size; 512 px looks the same, 10x cheaper


def cloud_layer(image, rng):
    """imgaug Fog(): one CloudLayer, intensity 220-255, alpha_min 0.7-0.9, dense and low-frequency."""
    h, w = image.shape[:2]
    mean = _u(rng, (220, 255))
    alpha_min = _u(rng, (0.7, 0.9))
    density = _u(rng, (0.4, 0.9))
    coarse = (mean + rng.normal(0, 2, size=(8, 8))).astype(np.float32)
    coarse = _resize_cubic(coarse, h, w)
    fine = mean * ((2 * frequency_noise(h, w, _u(rng, (-2.0, -1.5)), _FINE_MAX, rng) - 1.0) / 5.0)
    intensity = np.clip(coarse + fine, 0, 255)
    local = frequency_noise(h, w, _u(rng, (-4.0, -2.0)), int(rng.integers(2, 9)), rng)
    alpha = np.clip(((alpha_min + 0.3 * local) ** 0.9) * density, 0.0, 1.0)[..., None]
    out = (1 - alpha) * image.astype(np.float32) + alpha * intensity[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)
