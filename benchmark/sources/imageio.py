"""Decode one image or mask file, or raise a BadSampleError that names the file and what is wrong.

Truncation is an error: Pillow accepts a PNG cut before its IEND chunk, and with
``ImageFile.LOAD_TRUNCATED_IMAGES`` set anywhere in the process it pads cut JPEGs with grey, so
both containers are checked for their end marker before decoding.

EXIF orientation is never applied: every supported dataset annotates the stored pixel grid
(COCO polygons and RLEs, mask PNGs), so rotating the image would misalign it with its masks."""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from corruptions.image import ImageFormatError, to_rgb_uint8

from .errors import BadSampleError

_JPEG_SOI = b"\xff\xd8"
_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_CONVERT_TO_RGB = {"P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "RGBX", "RGBa", "La"}


def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadSampleError(path, "file not found") from None
    except IsADirectoryError:
        raise BadSampleError(path, "is a directory, not an image file") from None
    except OSError as e:
        raise BadSampleError(path, f"cannot read: {e.strerror or e}") from None
    if not data:
        raise BadSampleError(path, "empty file (0 bytes)")
    return data


def _check_complete(path: Path, data: bytes) -> None:
    """An end marker after the last scan (JPEG) or an IEND chunk (PNG); independent of Pillow's settings."""
    if data.startswith(_JPEG_SOI):
        # 0xFF inside entropy-coded data is always byte-stuffed, so FFDA/FFD9 only occur as markers
        if data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda"):
            raise BadSampleError(path, "truncated JPEG: no end-of-image marker after the last scan")
    elif data.startswith(_PNG_SIG):
        if data.rfind(b"IEND") < 0:
            raise BadSampleError(path, "truncated PNG: no IEND chunk")


def _decode(path: Path) -> Image.Image:
    data = _read_bytes(path)
    _check_complete(path, data)
    try:
        im = Image.open(io.BytesIO(data))
        im.load()
    except UnidentifiedImageError:
        raise BadSampleError(path, f"not an image file Pillow can decode (starts with {data[:8]!r})") from None
    except (OSError, SyntaxError, ValueError) as e:  # Pillow reports corrupt data as OSError/SyntaxError
        raise BadSampleError(path, f"corrupt or truncated image data: {e}") from None
    except Image.DecompressionBombError as e:
        raise BadSampleError(path, str(e)) from None
    return im


def _as_array(im: Image.Image) -> np.ndarray:
    """Pixels as stored: 'I;16*' -> uint16, 'I' -> int32, '1' -> bool, palettes as indices."""
    a = np.asarray(im)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("="))
    return a


def read_image(path: str | os.PathLike) -> np.ndarray:
    """uint8 HxWx3 RGB. Palette, CMYK and YCbCr images go through Pillow's RGB conversion;
    grayscale, RGBA (alpha dropped) and 16-bit images through ``to_rgb_uint8``."""
    path = Path(path)
    im = _decode(path)
    if im.mode in _CONVERT_TO_RGB:
        im = im.convert("RGB")
    a = _as_array(im)
    if im.mode == "LA":
        a = a[:, :, 0]
    elif im.mode == "I":
        if a.size and (a.min() < 0 or a.max() > 65535):
            raise BadSampleError(path, f"32-bit image with values outside 0..65535 ({a.min()}..{a.max()})")
        a = a.astype(np.uint16)
    try:
        return to_rgb_uint8(a, what=str(path))
    except ImageFormatError as e:
        raise BadSampleError(path, f"unsupported pixel format (Pillow mode {im.mode}): {e}") from None


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """The stored values, unconverted: HxW (uint8, uint16, int32 or bool; palette PNGs give their
    indices) or HxWxC for RGB(A) masks. Interpreting them is the reader's job."""
    path = Path(path)
    im = _decode(path)
    a = _as_array(im)
    if a.ndim not in (2, 3) or a.shape[0] < 1 or a.shape[1] < 1:
        raise BadSampleError(path, f"unexpected mask shape {a.shape} (Pillow mode {im.mode})")
    return a
