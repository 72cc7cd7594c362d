"""DACS's strong augmentation of the mixed image (DAFormer ``mmseg/models/utils/dacs_transforms.py``
``strong_transform``, used by ECOCSeg's ``dacs.py``; defaults from DAFormer's ``configs/_base_/uda/dacs.py``:
``color_jitter_strength=0.2``, ``color_jitter_probability=0.2``, ``blur=True``).

Per batch one uniform draw u decides colour jitter for every image (applied when u > p, so with probability
0.8) and one draw v decides blur (applied when v > 0.5); each image then draws its own factors. Colour jitter
is kornia's ``ColorJitter(brightness=s, contrast=s, saturation=s, hue=s)`` as kornia 0.5 applies it to an
image in [0, 1]: the four factors drawn from U[1 - s, 1 + s] (hue U[-s, s]), applied in a random order:
brightness adds (factor - 1), contrast multiplies, saturation multiplies HSV saturation, hue shifts HSV hue
by factor * 2 pi; each result clamped to [0, 1]. Blur is a Gaussian of sigma U[0.15, 1.15] with an odd
kernel of about a tenth of the image side, reflect-padded (kornia ``GaussianBlur2d``).

Reconstructed, not run against kornia (not a dependency): the operations follow kornia's documented
definitions; the random draws come from our generator, not torch's global one."""
from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F

JITTER_STRENGTH = 0.2
JITTER_PROBABILITY = 0.2


def rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] to HSV with hue in [0, 2 pi)."""
    r, g, b = x.unbind(1)
    maxc, argmax = x.max(1)
    minc = x.min(1).values
    delta = maxc - minc
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    h = torch.stack(((g - b) / safe % 6, (b - r) / safe + 2, (r - g) / safe + 4), 1).gather(1, argmax[:, None])[:, 0]
    h = torch.where(delta > 0, h * (math.pi / 3), torch.zeros_like(h)) % (2 * math.pi)
    s = torch.where(maxc > 0, delta / torch.where(maxc > 0, maxc, torch.ones_like(maxc)), torch.zeros_like(maxc))
    return torch.stack((h, s, maxc), 1)


def hsv_to_rgb(x: torch.Tensor) -> torch.Tensor:
    h, s, v = x.unbind(1)
    k = lambda n: (n + h / (math.pi / 3)) % 6  # noqa: E731
    f = lambda n: v - v * s * torch.clamp(torch.minimum(k(n), 4 - k(n)), 0, 1)  # noqa: E731
    return torch.stack((f(5), f(3), f(1)), 1)


def color_jitter(img: torch.Tensor, rng: np.random.Generator, s: float = JITTER_STRENGTH) -> torch.Tensor:
    """One (1, 3, H, W) image in [0, 1], jittered as the module docstring says."""
    bright, contrast, sat = (float(rng.uniform(1 - s, 1 + s)) for _ in range(3))
    hue = float(rng.uniform(-s, s))

    def saturate(x):
        hsv = rgb_to_hsv(x)
        return hsv_to_rgb(torch.stack((hsv[:, 0], (hsv[:, 1] * sat).clamp(0, 1), hsv[:, 2]), 1))

    def shift_hue(x):
        hsv = rgb_to_hsv(x)
        return hsv_to_rgb(torch.stack(((hsv[:, 0] + hue * 2 * math.pi) % (2 * math.pi), hsv[:, 1], hsv[:, 2]), 1))

    ops = [lambda x: (x + (bright - 1)).clamp(0, 1), lambda x: (x * contrast).clamp(0, 1), saturate, shift_hue]
    for i in rng.permutation(4):
        img = ops[int(i)](img).clamp(0, 1)
    return img


def blur_kernel_size(side: int) -> int:
    """DAFormer's ``floor(ceil(0.1 * side) - 0.5 + ceil(0.1 * side) % 2)``: an odd size near a tenth."""
    c = math.ceil(0.1 * side)
    return int(math.floor(c - 0.5 + c % 2))


def gaussian_blur(img: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of a (B, C, H, W) image, kernel sizes from ``blur_kernel_size``."""
    out = img
    for dim, side in ((2, img.shape[2]), (3, img.shape[3])):
        k = blur_kernel_size(side)
        x = torch.arange(k, dtype=img.dtype) - k // 2
        g = torch.exp(-x ** 2 / (2 * sigma ** 2))
        g = (g / g.sum()).to(img.device)
        shape = (1, 1, k, 1) if dim == 2 else (1, 1, 1, k)
        pad = (0, 0, k // 2, k // 2) if dim == 2 else (k // 2, k // 2, 0, 0)
        c = out.shape[1]
        out = F.conv2d(F.pad(out, pad, mode="reflect"), g.view(shape).expand(c, 1, *shape[2:]), groups=c)
    return out


def strong_transform(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
                     rng: np.random.Generator) -> torch.Tensor:
    """DACS's colour jitter and blur of normalised (B, 3, H, W) mixed images (``mean``/``std`` the
    normalisation's, in 0..255 as mmseg's); labels are untouched."""
    jitter, blur = float(rng.uniform()), float(rng.uniform())  # one draw per batch, as DACS's strong_parameters
    out = []
    for img in images.split(1):
        if jitter > JITTER_PROBABILITY:  # DAFormer's denorm_ / renorm_ around kornia's [0, 1] images
            img = (color_jitter((img * std + mean) / 255, rng) * 255 - mean) / std
        if blur > 0.5:
            img = gaussian_blur(img, float(rng.uniform(0.15, 1.15)))
        out.append(img)
    return torch.cat(out)
