"""Input normalisation: whatever a user has, to uint8 HxWx3 RGB, or a clear error."""
from __future__ import annotations

import numpy as np


class ImageFormatError(ValueError):
    pass


def to_rgb_uint8(image: np.ndarray, what: str = "image") -> np.ndarray:
    """Grayscale (HxW, HxWx1), RGB, RGBA (alpha dropped), 8- or 16-bit integer, or float in
    [0, 1] -> C-contiguous uint8 HxWx3. ``what`` names the input in errors."""
    a = np.asarray(image)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise ImageFormatError(f"{what}: expected HxW, HxWx1, HxWx3 or HxWx4, got shape {a.shape}")
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise ImageFormatError(f"{what}: empty image of shape {a.shape}")
    if a.dtype == np.uint8:
        pass
    elif a.dtype == np.uint16:
        a = ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    elif a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    elif np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all() or a.min() < 0 or a.max() > 1:
            raise ImageFormatError(f"{what}: float images must be finite and in [0, 1]")
        a = np.round(a * 255).astype(np.uint8)
    else:
        raise ImageFormatError(f"{what}: unsupported dtype {a.dtype}; use uint8, uint16, bool or float in [0, 1]")
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    elif a.shape[2] == 4:
        a = a[:, :, :3]
    return np.ascontiguousarray(a)
