"""The 15 Robust-Seg degradations of RobustSAM (``data/augment.py`` @ 6f0e2637), reimplemented with
numpy/OpenCV only and seeded from the corruption rng. Parameter ranges and transforms follow
../shared/reference/robustsam-degradations.md (albumentations 1.3.1 / imgaug 0.4.0 semantics);
every deviation from the original is listed in docs/corruptions.md.
"""
from __future__ import annotations

import cv2
import numpy as np
import simplejpeg

from ..registry import register_corruption
from . import _filters as F
from ._weather import cloud_layer, haze, rain_layer, snowflakes_layer

FAMILY = "robustsam"


def _lut(values: np.ndarray) -> np.ndarray:
    return np.clip(values, 0, 255).astype(np.uint8)


@register_corruption(FAMILY, "snow", description="imgaug-style Snowflakes: one layer applied 1-3 times, density 0.35, flake size 0.6-0.8")
def snow(image, masks, severity, rng):
    times = int(rng.integers(1, 4))  # Snowflakes = SomeOf((1, 3)) copies of one layer, RNG state included
    return snowflakes_layer(image, rng, density=0.35, density_uniformity=(0.3, 0.9), flake_size=(0.6, 0.8),
                            flake_size_uniformity=(0.4, 0.8), angle=(0.0, 0.0), speed=(0.01, 0.015), times=times), masks


@register_corruption(FAMILY, "fog", description="imgaug-style Fog cloud layer, seeded per image, then albumentations' RandomFog haze and box blur")
def fog(image, masks, severity, rng):
    return haze(cloud_layer(image, rng), rng, fog_coef=(0.1, 0.2), alpha_coef=0.08), masks


@register_corruption(FAMILY, "rain", description="imgaug-style Rain: one layer applied 1-3 times, drop size 0.40-0.50, speed 0.05-0.1")
def rain(image, masks, severity, rng):
    times = int(rng.integers(1, 4))  # Rain nb_iterations=(1, 3): copies of one layer, RNG state included
    return rain_layer(image, rng, drop_size=(0.40, 0.50), speed=(0.05, 0.1), times=times), masks


@register_corruption(FAMILY, "gauss_noise", description="additive Gaussian noise, variance U(250, 260) per value")
def gauss_noise(image, masks, severity, rng):
    sigma = np.sqrt(rng.uniform(250.0, 260.0))
    noise = rng.standard_normal(image.shape, dtype=np.float32) * np.float32(sigma)
    return np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8), masks


@register_corruption(FAMILY, "ISO_noise", description="camera ISO noise: hue shift and Poisson lightness, color_shift 0.4-0.5, intensity 0.7-0.8")
def iso_noise(image, masks, severity, rng):
    color_shift = rng.uniform(0.4, 0.5)
    intensity = rng.uniform(0.7, 0.8)
    hls = cv2.cvtColor(np.multiply(image, np.float32(1 / 255.), dtype=np.float32), cv2.COLOR_RGB2HLS)
    _, std = cv2.meanStdDev(hls)
    lum_noise = rng.poisson(std[1, 0] * intensity * 255, size=hls.shape[:2]).astype(np.float32)
    color_noise = rng.normal(0, color_shift * 360 * intensity, size=hls.shape[:2]).astype(np.float32)
    hue = hls[..., 0]
    hue += color_noise
    hue[hue < 0] += 360
    hue[hue > 360] -= 360
    lum = hls[..., 1]
    lum += (lum_noise / 255) * (1.0 - lum)
    return (cv2.cvtColor(hls, cv2.COLOR_HLS2RGB) * 255).astype(np.uint8), masks


@register_corruption(FAMILY, "impulse_noise", description="global brightening x U(1.4, 1.5) (RobustSAM's MultiplicativeNoise, kept under its name)")
def impulse_noise(image, masks, severity, rng):
    return multiply(image, rng.uniform(1.4, 1.5)), masks


def multiply(image: np.ndarray, factor: float) -> np.ndarray:
    """albumentations' uint8 multiply: a float32 LUT clipped and truncated."""
    return cv2.LUT(image, _lut(np.arange(256, dtype=np.float32) * np.float32(factor)))


@register_corruption(FAMILY, "resampling_blur", description="bilinear downsample by 4 and back up")
def resampling_blur(image, masks, severity, rng):
    """The reference's own two calls (bilinear is cv2.resize's default); inputs are >= 16 px a side."""
    h, w = image.shape[:2]
    return cv2.resize(cv2.resize(image, (w // 4, h // 4)), (w, h)), masks


def motion_kernel(ksize: int, rng: np.random.Generator) -> tuple[np.ndarray, tuple[int, int]]:
    """albumentations 1.3.1 MotionBlur's kernel with ``allow_shifted=True`` (RobustSAM's default): a
    1-px line between two random points of a ksize x ksize grid, wherever they fall. Filtered with the
    centre anchor, such a kernel blurs *and* translates the image; also returned is that translation
    as whole pixels (dy, dx): the output at (y, x) averages content centred on (y + dy, x + dx), dy, dx
    being the mean tap's offset from the kernel centre, rounded half up."""
    x1, x2 = (int(v) for v in rng.integers(0, ksize, size=2))
    if x1 == x2:
        y1, y2 = (int(v) for v in rng.choice(ksize, size=2, replace=False))
    else:
        y1, y2 = (int(v) for v in rng.integers(0, ksize, size=2))
    k = np.zeros((ksize, ksize), dtype=np.uint8)
    cv2.line(k, (x1, y1), (x2, y2), 1, thickness=1)
    centroid = np.argwhere(k).mean(axis=0) - (ksize - 1) / 2  # the rasterised line's mean tap
    shift = tuple(int(v) for v in np.floor(centroid + 0.5))
    return k.astype(np.float32) / np.sum(k), shift


def shift_masks(masks: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Masks moved as the motion blur moves the image: output (y, x) reads (y + dy, x + dx), with
    the image's reflect-101 border."""
    if (dy, dx) == (0, 0):
        return masks
    h, w = masks.shape[1:]
    map_x = np.broadcast_to(np.arange(w, dtype=np.float32) + dx, (h, w))
    map_y = np.broadcast_to(np.arange(h, dtype=np.float32)[:, None] + dy, (h, w))
    return F.remap_masks(masks, np.ascontiguousarray(map_x), np.ascontiguousarray(map_y), cv2.BORDER_REFLECT_101)


_DIRECT_MAX = 11  # OpenCV filters 8-bit images directly up to 11x11 kernels, by DFT beyond


def line_filter(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``cv2.filter2D(image, -1, kernel, borderType=BORDER_REFLECT_101)`` for a line kernel (n equal
    taps). Past 11x11 OpenCV switches to a float DFT (2.4x slower in OpenCV 5 than in 4); there the n
    shifted copies are summed exactly instead and s/n rounded half up (round(s/n + 0.25/n) has a
    0.25/n margin in float32), which the DFT only approximates."""
    ksize = kernel.shape[0]
    if ksize <= _DIRECT_MAX:
        return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT_101)
    h, w = image.shape[:2]
    r = ksize // 2
    pad = cv2.copyMakeBorder(image, r, r, r, r, cv2.BORDER_REFLECT_101)
    taps = np.argwhere(kernel > 0)
    acc = np.zeros(image.shape, dtype=np.float32)
    for ty, tx in taps:  # correlation: output(y, x) reads image(y + ty - r, x + tx - r)
        cv2.accumulate(pad[ty:ty + h, tx:tx + w], acc)
    n = len(taps)
    return cv2.convertScaleAbs(acc, alpha=1.0 / n, beta=0.25 / n)


@register_corruption(FAMILY, "motion_blur", geometric=True,
                     description="line motion blur, odd kernel 3-35 px, line anywhere in it (shifts the image; masks moved alike)")
def motion_blur(image, masks, severity, rng):
    kernel, (dy, dx) = motion_kernel(int(rng.choice(np.arange(3, 36, 2))), rng)
    return line_filter(image, kernel), shift_masks(masks, dy, dx)


@register_corruption(FAMILY, "zoom_blur", description="average of centre zooms 1.0 to U(1, 1.33) in steps U(0.05, 0.07)")
def zoom_blur(image, masks, severity, rng):
    max_factor = rng.uniform(1.0, 1.33)
    step = rng.uniform(0.05, 0.07)
    h, w = image.shape[:2]
    factors = np.arange(1.0, max_factor, step)
    out = np.zeros(image.shape, dtype=np.float32)
    for z in factors:
        hc, wc = int(np.ceil(h / z)), int(np.ceil(w / z))
        top, left = (h - hc) // 2, (w - wc) // 2
        big = cv2.resize(image[top:top + hc, left:left + wc], (int(wc * z), int(hc * z)), interpolation=cv2.INTER_LINEAR)
        bt, bl = (big.shape[0] - h) // 2, (big.shape[1] - w) // 2
        cv2.accumulate(big[bt:bt + h, bl:bl + w], out)  # out += zoomed, the same float32 add
    cv2.accumulate(image, out)  # image + out (the sum commutes exactly)
    out /= len(factors) + 1
    return out.astype(np.uint8), masks


_GRAY = np.array([0.299, 0.587, 0.114])  # the luma weights of cv2.COLOR_RGB2GRAY
_TRUNC = -0.499  # rounding x - 0.499 truncates x, as astype(uint8) does


def color_jitter_apply(image: np.ndarray, brightness: float, contrast: float, saturation: float, hue: float,
                       order) -> np.ndarray:
    """albumentations ColorJitter on uint8 (torchvision semantics) in the given order, with one
    OpenCV pass per step writing into our own buffer (albumentations makes 2-4 passes and new arrays
    per step). Brightness and contrast are its truncating LUTs as one saturating affine pass
    (x*f - 0.499 rounded = floor(x*f) but where x*f lies within 0.001 below an integer), with contrast's pivot
    computed from the channel means (it averages a rounded grey image: 1e-3 apart); saturation is
    one 3x3 colour matrix (it blends with a rounded grey image: within 1 grey level); hue is its
    exact HSV round trip."""
    out = None  # our buffer once a step ran: later steps write into it
    for i in order:
        src = image if out is None else out
        if i == 0 and brightness != 1:
            out = cv2.convertScaleAbs(src, dst=out, alpha=brightness, beta=_TRUNC)  # >= -0.499: abs rounds to 0
        elif i == 1 and contrast != 1:
            pivot = float(np.dot(cv2.mean(src)[:3], _GRAY))
            out = cv2.addWeighted(src, contrast, src, 0.0, pivot * (1 - contrast) + _TRUNC, dst=out)
        elif i == 2 and saturation != 1:
            out = cv2.transform(src, saturation * np.eye(3) + (1 - saturation) * _GRAY, dst=out)
        elif i == 3 and hue != 0:
            hsv = cv2.cvtColor(src, cv2.COLOR_RGB2HSV)
            h = cv2.extractChannel(hsv, 0)
            cv2.LUT(h, np.mod(np.arange(256, dtype=np.int16) + 180 * hue, 180).astype(np.uint8), dst=h)
            cv2.insertChannel(h, hsv, 0)
            out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB, dst=out)
    return image.copy() if out is None else out


@register_corruption(FAMILY, "color_jitter", description="brightness 0.3-1.7, contrast 0.7-1.3, saturation 0.3-1.7, hue +-0.7, random order")
def color_jitter(image, masks, severity, rng):
    b, c, s, h = rng.uniform(0.3, 1.7), rng.uniform(0.7, 1.3), rng.uniform(0.3, 1.7), rng.uniform(-0.7, 0.7)
    return color_jitter_apply(image, b, c, s, h, rng.permutation(4)), masks


@register_corruption(FAMILY, "compression", description="JPEG round trip at quality 5-10")
def compression(image, masks, severity, rng):
    return jpeg_round_trip(image, int(rng.integers(5, 11))), masks


def jpeg_round_trip(image: np.ndarray, quality: int) -> np.ndarray:
    """albumentations 1.3.1's ImageCompression on RobustSAM's RGB array: ``cv2.imencode`` takes it
    for BGR, so the JPEG's luma and 4:2:0 chroma are computed on swapped channels, and
    ``cv2.imdecode`` swaps back. libjpeg-turbo (simplejpeg) told the same ("BGR" both ways, 4:2:0,
    accurate DCT) gives those bytes without OpenCV's channel-order copies."""
    data = simplejpeg.encode_jpeg(np.ascontiguousarray(image), quality=quality, colorspace="BGR",
                                  colorsubsampling="420")
    return simplejpeg.decode_jpeg(data, colorspace="BGR")


def elastic_fields(shape: tuple[int, int], rng: np.random.Generator, alpha: float = 100.0, sigma: float = 10.0,
                   alpha_affine: float = 5.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """albumentations 1.3.1 ElasticTransform's draws: the random affine (2x3, corner jitter up to
    ``alpha_affine``) and the elastic displacement field (dx, dy: uniform noise in [-1, 1] smoothed by
    scipy's Gaussian, reflect border, times ``alpha``), in its order."""
    h, w = shape
    center = np.array((h, w), dtype=np.float32) // 2
    size = min(h, w) // 3
    pts1 = np.array([center + size, [center[0] + size, center[1] - size], center - size], dtype=np.float32)
    pts2 = pts1 + rng.uniform(-alpha_affine, alpha_affine, size=pts1.shape).astype(np.float32)
    fields = []
    for _ in range(2):
        noise = rng.random((h, w), dtype=np.float32) * 2 - 1
        fields.append(F.gaussian_blur(noise, sigma, sigma, cv2.BORDER_REFLECT) * np.float32(alpha))
    return cv2.getAffineTransform(pts1, pts2), fields[0], fields[1]


@register_corruption(FAMILY, "elastic_transform", geometric=True,
                     description="elastic warp alpha 100, sigma 10, affine jitter 5 px; masks warped with the same field")
def elastic_transform(image, masks, severity, rng):
    """As albumentations: the image is warped by the affine, then resampled along the elastic field,
    both bilinear with reflect-101 borders (two interpolations: its softness is part of the look).
    The masks take the composition of both warps in one nearest-neighbour remap."""
    h, w = image.shape[:2]
    affine, dx, dy = elastic_fields((h, w), rng)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ex, ey = xx + dx, yy + dy  # the elastic step samples the affine-warped image here
    warped = cv2.warpAffine(image, affine, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    out = cv2.remap(warped, ex, ey, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    if masks.shape[0] == 0:
        return out, masks
    inv = cv2.invertAffineTransform(affine)  # warpAffine output (x, y) reads the input at inv @ (x, y, 1)
    map_x = (inv[0, 0] * ex + inv[0, 1] * ey + inv[0, 2]).astype(np.float32)
    map_y = (inv[1, 0] * ex + inv[1, 1] * ey + inv[1, 2]).astype(np.float32)
    return out, F.remap_masks(masks, map_x, map_y, cv2.BORDER_REFLECT_101)


@register_corruption(FAMILY, "frosted_glass_blur", description="every pixel replaced by one up to 3 px away (clamped)")
def frosted_glass_blur(image, masks, severity, rng):
    h, w = image.shape[:2]
    off = rng.integers(-3, 4, size=(2, h, w), dtype=np.int16)
    ty = np.clip(np.arange(h, dtype=np.int32)[:, None] + off[0], 0, h - 1)
    tx = np.clip(np.arange(w, dtype=np.int32)[None, :] + off[1], 0, w - 1)
    return image[ty, tx], masks


def brightness_apply(image: np.ndarray, factor: float) -> np.ndarray:
    """``np.clip(image * factor, 0, 255).astype(uint8)`` as a LUT (same float64 products)."""
    return cv2.LUT(image, _lut(np.arange(256, dtype=np.uint8) * factor))


def contrast_apply(image: np.ndarray, factor: float) -> np.ndarray:
    """``(image.astype(float32) - 128) * factor + 128``, clipped and truncated, as a LUT."""
    return cv2.LUT(image, _lut((np.arange(256, dtype=np.float32) - 128) * factor + 128))


@register_corruption(FAMILY, "brightness", description="darkening by a factor U(0.6, 0.8)")
def brightness(image, masks, severity, rng):
    return brightness_apply(image, rng.uniform(0.6, 0.8)), masks


@register_corruption(FAMILY, "contrast", description="contrast increase by U(1.6, 1.7) around grey 128")
def contrast(image, masks, severity, rng):
    return contrast_apply(image, rng.uniform(1.6, 1.7)), masks
