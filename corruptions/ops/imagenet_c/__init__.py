"""The 19 ImageNet-C corruptions of the ``imagecorruptions`` package (1.1.2), severities 1-5.

Parameter tables are the package's. Each op reproduces the reference's arithmetic and its order
of draws from a legacy ``RandomState`` (seeded from the corruption rng), so with
``RandomState(0)`` the internal ``IMPLS`` give the reference's output under ``np.random.seed(0)``
(bit-equal, or |d| <= 1 where a float32/OpenCV filter replaces a float64 one). Deviations, each
in docs/corruptions.md: impulse_noise draws from the seeded generator (the reference is unseeded),
frost uses procedural textures. Speed comes from OpenCV filters, separable zooms, LUTs, a vectorised
HSV conversion and glass_blur's shuffle loop resolved by pointer doubling (exactly, not approximately).
"""
from __future__ import annotations

import numpy as np

from ...registry import register_corruption
from .. import _filters as F
# glass_sources and _FROST are imported for the reference tests too
from .blur import _defocus_blur, _gaussian_blur, _glass_blur, _motion_blur, _zoom_blur, glass_sources  # noqa: F401
from .digital import (_brightness, _contrast, _elastic_transform, _elastic_transform_full, _jpeg_compression,
                      _pixelate, _saturate)
from .noise import _gaussian_noise, _impulse_noise, _shot_noise, _speckle_noise
from .weather import _FROST, _fog, _frost, _snow, _spatter  # noqa: F401

FAMILY = "imagecorruptions"
SEVERITIES = (1, 2, 3, 4, 5)


#: name -> (implementation on uint8 RGB returning float in [0, 255] or uint8, which rng it takes:
#: "legacy" = a RandomState in the reference's draw order, "generator" = the corruption rng)
IMPLS = {
    "gaussian_noise": (_gaussian_noise, "legacy"),
    "shot_noise": (_shot_noise, "legacy"),
    "impulse_noise": (_impulse_noise, "generator"),
    "defocus_blur": (_defocus_blur, "legacy"),
    "glass_blur": (_glass_blur, "legacy"),
    "motion_blur": (_motion_blur, "legacy"),
    "zoom_blur": (_zoom_blur, "legacy"),
    "snow": (_snow, "legacy"),
    "frost": (_frost, "generator"),
    "fog": (_fog, "legacy"),
    "brightness": (_brightness, "legacy"),
    "contrast": (_contrast, "legacy"),
    "elastic_transform": (_elastic_transform, "legacy"),
    "pixelate": (_pixelate, "legacy"),
    "jpeg_compression": (_jpeg_compression, "legacy"),
    "speckle_noise": (_speckle_noise, "legacy"),
    "gaussian_blur": (_gaussian_blur, "legacy"),
    "spatter": (_spatter, "legacy"),
    "saturate": (_saturate, "legacy"),
}

_DESCRIPTIONS = {
    "gaussian_noise": "additive Gaussian noise, sigma 0.08-0.38 of full range",
    "shot_noise": "Poisson photon noise, 60 down to 3 photons per unit intensity",
    "impulse_noise": "salt-and-pepper on 3-27% of values",
    "defocus_blur": "anti-aliased disk kernel, radius 3-10 px",
    "glass_blur": "Gaussian blur, local pixel shuffling (1-4 px), blur again",
    "motion_blur": "one-sided Gaussian motion streak of 21-41 px at a random angle",
    "zoom_blur": "average of centre zooms up to 1.10-1.30x",
    "snow": "motion-blurred snow layer over a brightened, greyed image",
    "frost": "blend with a procedural frost texture (not the package's photos)",
    "fog": "diamond-square plasma fog, contrast reduced",
    "brightness": "HSV value raised by 0.1-0.5",
    "contrast": "contrast scaled to 0.4-0.05 around the channel means",
    "elastic_transform": "smooth random displacement field; masks warped with it",
    "pixelate": "box downscale to 60-25% and nearest upscale",
    "jpeg_compression": "JPEG round trip at quality 25-7",
    "speckle_noise": "multiplicative Gaussian noise, sigma 0.15-0.6",
    "gaussian_blur": "Gaussian blur, sigma 1-6 px",
    "spatter": "water drops (1-3) or mud (4-5) splashes",
    "saturate": "HSV saturation scaled by 0.3, 0.1, 2, 5, 20",
}


def run_impl(name: str, image: np.ndarray, severity: int, rs_or_rng) -> np.ndarray:
    """The op's image output as uint8 with the reference's final ``np.uint8`` (truncation)."""
    out = IMPLS[name][0](image, severity, rs_or_rng)
    if out.dtype != np.uint8:
        out = F.to_uint8_trunc(out)
    return np.ascontiguousarray(out)


def _make(name: str):
    kind = IMPLS[name][1]

    def op(image, masks, severity, rng):
        src = F.legacy_state(rng) if kind == "legacy" else rng
        if name == "elastic_transform":
            out, masks = _elastic_transform_full(image, masks, severity, src)
            return F.to_uint8_trunc(out), masks
        return run_impl(name, image, severity, src), masks

    op.__name__ = name
    op.__doc__ = _DESCRIPTIONS[name]
    return op


for _name in IMPLS:
    register_corruption(FAMILY, _name, severities=SEVERITIES, description=_DESCRIPTIONS[_name],
                        geometric=_name == "elastic_transform")(_make(_name))
