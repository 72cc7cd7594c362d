"""imgaug 0.4.0's weather layers (Snowflakes, Rain, Fog/CloudLayer) rebuilt on numpy/OpenCV.

The same pipeline and parameter distributions as imgaug (salt noise gated by Beta noise, cubic
upscale, Gaussian and one-sided motion blur, gamma, sum+max blend for snow; alpha blend for rain;
frequency-noise alpha and intensity maps for fog), drawing from the corruption rng instead of
imgaug's global RNG. Not bit-equal to imgaug (different random streams), same look.

Snowflakes and Rain run 1-3 layers (imgaug ``SomeOf((1, 3))``), but imgaug builds its three children
as deep copies of one layer, RNG state included, so the active ones draw identical noise: the image
gets the *same* layer 1-3 times (measured on imgaug 0.4.0: the children's RNG states are equal). The
``times`` argument repeats one layer's blend; independent layers would be about 35 % stronger.
The noise is upscaled first and then blurred at full size, in imgaug's order: smearing it at its own
small scale before upscaling (faster) left the flakes about 40 % sharper (variance of the Laplacian).
The blends are uint8 LUT/OpenCV passes over the image instead of float copies of it.
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


def _layer_noise(h: int, w: int, rng, density, density_uniformity, flake_size) -> np.ndarray:
    """imgaug's layer noise: salt gated by Beta noise at ``1 - flake_size`` scale, cubic-upscaled."""
    s = float(np.clip(1.0 - flake_size, 0.001, 1.0))
    noise = _salt_gated(max(1, int(h * s)), max(1, int(w * s)), density, density_uniformity, rng)
    return _resize_cubic(noise, h, w)


def _gaussian_ksize(sigma: float) -> int:
    """imgaug's kernel size for blur_gaussian_ (3.3, 2.9 or 2.6 sigma wide, at least 5, odd)."""
    k = int(max(sigma * (3.3 if sigma < 3 else 2.9 if sigma < 5 else 2.6), 5))
    return k + 1 if k % 2 == 0 else k


def _motion_blur(noise: np.ndarray, k: int, angle: float) -> np.ndarray:
    """imgaug MotionBlur(k, angle, direction=1) as the weather layers call it, at full size: a
    k x k kernel (k odd, at least 3) whose middle column falls linearly from 1 to 0, quantised to
    uint8, turned by ``angle`` (bilinear, about its centre; the weather angles are symmetric about
    0, so the sense of rotation does not matter), normalised; correlated with reflect-101 borders."""
    if k <= 1:
        return noise
    k = max(k, 3)
    k += 1 - k % 2
    m = np.zeros((k, k), dtype=np.uint8)
    m[:, k // 2] = (np.linspace(1.0, 0.0, num=k, dtype=np.float32) * 255).astype(np.uint8)
    if angle != 0:
        rot = cv2.getRotationMatrix2D(((k - 1) / 2, (k - 1) / 2), angle, 1.0)
        m = cv2.warpAffine(m, rot, (k, k), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    kernel = m.astype(np.float32)
    if angle == 0:  # one column: a 1-D filter, cheap at any length
        kernel = np.ascontiguousarray(kernel[:, k // 2:k // 2 + 1])
    return cv2.filter2D(noise, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT_101)


def _rgb(plane: np.ndarray) -> np.ndarray:
    return cv2.merge([plane, plane, plane])


def snowflakes_layer(image, rng, *, density, density_uniformity, flake_size, flake_size_uniformity, angle, speed,
                     times: int = 1):
    """imgaug SnowflakesLayer: noise, Gaussian blur (sigma 0.0001-0.001 of the size, within 0.5-3.75),
    motion blur (speed x size px), gamma 1 + 2 (1 - u), gain 1 + 5 (1 - u), sum then max blend."""
    du, fs, fsu = _u(rng, density_uniformity), _u(rng, flake_size), _u(rng, flake_size_uniformity)
    ang, spd, blur_frac = _u(rng, angle), _u(rng, speed), _u(rng, (0.0001, 0.001))
    h, w = image.shape[:2]
    size = max(h, w)
    noise = _layer_noise(h, w, rng, density, du, fs)
    sigma = float(np.clip(size * blur_frac, 0.5, 3.75))
    k = _gaussian_ksize(sigma)
    noise = cv2.GaussianBlur(noise, (k, k), sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101)
    noise = _motion_blur(noise, int(spd * size), ang)
    # flakes = gamma(noise) * gain_adj (imgaug's truncating float32 gamma LUT); imgaug adds
    # (0.1 + 20 speed) * flakes to the image, then takes the max with (1 + 20 speed) * flakes, truncating
    # to uint8: integer image + float = two uint8 LUTs.
    gain, gain_adj = 1.0 + 2 * (1 - fsu), 1.0 + 5 * (1 - fsu)
    gamma = (np.linspace(0, 1.0, num=256, dtype=np.float32) ** np.float32(gain) * 255).astype(np.uint8)
    flakes = gamma.astype(np.float32) * np.float32(gain_adj)
    add = np.clip((0.1 + 20 * spd) * flakes, 0, 255).astype(np.uint8)
    top = np.clip((1.0 + 20 * spd) * flakes, 0, 255).astype(np.uint8)
    add, top = _rgb(cv2.LUT(noise, add)), _rgb(cv2.LUT(noise, top))
    out = image
    for _ in range(times):  # the same layer again (see the module docstring)
        out = cv2.add(out, add)
        cv2.max(out, top, dst=out)
    return out


def rain_layer(image, rng, *, drop_size, speed, times: int = 1):
    """imgaug RainLayer: Snowflakes' noise without Gaussian blur or gamma, motion-blurred at an angle
    of +-15 degrees, alpha-blended (alpha = min(1.3 noise / 255, 1)) towards the drop colour."""
    density, du = _u(rng, (0.03, 0.14)), _u(rng, (0.8, 1.0))
    ds, _dsu = _u(rng, drop_size), _u(rng, (0.2, 0.5))  # drop_size_uniformity only feeds snow's gamma
    ang, spd = _u(rng, (-15, 15)), _u(rng, speed)
    h, w = image.shape[:2]
    noise = _motion_blur(_layer_noise(h, w, rng, density, du, ds), int(spd * max(h, w)), ang)
    # imgaug's drop colour: 110 + 130 % (sum of the first 1000 values of the 3-channel noise, or 1)
    flat = noise.ravel()
    total = 3 * int(flat[:333].sum(dtype=np.int64)) + int(flat[333:334].sum(dtype=np.int64))
    colour = 110 + 130 % (total if total > 0 else 1)
    # out = image (1 - a) + colour a, a = min(1.3 noise / 255, 1), as uint8: image * keep / 255 + drop
    keep = np.round(255 - np.minimum(1.3 * np.arange(256), 255)).astype(np.uint8)
    keep = cv2.LUT(noise, keep)
    drop = np.round(colour * (1 - np.arange(256) / 255)).astype(np.uint8)
    keep, drop = _rgb(keep), _rgb(cv2.LUT(keep, drop))
    out = image
    for _ in range(times):  # the same layer again (see the module docstring)
        out = cv2.multiply(out, keep, scale=1 / 255)
        cv2.add(out, drop, dst=out)
    return out


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


def haze_points(shape: tuple[int, int], coef: float, rng) -> list[tuple[int, int]]:
    """albumentations 1.3.1 RandomFog's disc positions (top-left corners), in its order: rings from
    the centre outwards, ``hw // 10 * ring`` discs per ring, hw = a third of the width times coef."""
    h, w = shape
    hw = max(1, int(w // 3 * coef))
    points = []
    midx, midy, index = w // 2 - 2 * hw, h // 2 - hw, 1
    while midx > -hw or midy > -hw:
        for _ in range(hw // 10 * index):
            points.append((int(rng.integers(midx, w - midx - hw + 1)), int(rng.integers(midy, h - midy - hw + 1))))
        midx -= 3 * hw * w // (h + w)
        midy -= 3 * hw * h // (h + w)
        index += 1
    return points


def draw_haze(image: np.ndarray, coef: float, points, alpha_coef: float) -> np.ndarray:
    """albumentations 1.3.1 ``add_fog``: each white disc blended at alpha_coef * coef (about 1 %),
    then a box blur of hw // 10 px (hw at least 10 here). albumentations blends the whole image
    per disc, which returns every pixel outside the disc unchanged; here only the disc's bounding
    box is blended."""
    h, w = image.shape[:2]
    hw = max(int(w // 3 * coef), 10)
    alpha, rad = alpha_coef * coef, hw // 2
    out = image.copy()
    for px, py in points:
        x, y = px + hw // 2, py + hw // 2
        x0, y0, x1, y1 = max(x - rad, 0), max(y - rad, 0), min(x + rad + 1, w), min(y + rad + 1, h)
        if x0 >= x1 or y0 >= y1:
            continue
        roi = out[y0:y1, x0:x1]
        disc = roi.copy()
        cv2.circle(disc, (x - x0, y - y0), rad, (255, 255, 255), -1)
        cv2.addWeighted(disc, alpha, roi, 1 - alpha, 0, dst=roi)
    return cv2.blur(out, (hw // 10, hw // 10))


def haze(image, rng, *, fog_coef=(0.1, 0.2), alpha_coef=0.08):
    """albumentations 1.3.1 RandomFog. Faint on its own, but its blur is what takes the fine detail
    off a large image."""
    coef = _u(rng, fog_coef)
    return draw_haze(image, coef, haze_points(image.shape[:2], coef, rng), alpha_coef)
