"""Decode one image or mask file, or raise a BadSampleError that names the file and what is wrong.

Truncation is an error: Pillow accepts a PNG cut before its IEND chunk, and with
``ImageFile.LOAD_TRUNCATED_IMAGES`` set anywhere in the process it pads cut JPEGs with grey, so
JPEG, PNG and WebP containers are walked to their end before decoding (other formats rely on
Pillow's own check, which that setting disables).

16-bit colour (RGB, RGBA, grey+alpha) PNGs and TIFFs are decoded with OpenCV: Pillow keeps
only their high byte, while 16-bit grey goes through rounding; one rule for all 16-bit data.

EXIF orientation is never applied: every supported dataset annotates the stored pixel grid
(COCO polygons and RLEs, mask PNGs), so rotating the image would misalign it with its masks."""
from __future__ import annotations

import io
import os
import struct
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from corruptions.image import ImageFormatError, to_rgb_uint8

from ...paths import file_problem
from .errors import BadSampleError

_JPEG_SOI = b"\xff\xd8"
_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_CONVERT_TO_RGB = {"P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "RGBX", "RGBa", "La"}
_JPEG_NO_LENGTH = {0x01, *range(0xD0, 0xD8)}  # TEM and RSTn carry no length field


def _read_bytes(path: Path, root: Optional[Path]) -> bytes:
    """The file's bytes, after refusing a symlink that leaves ``root`` (the dataset folder) and
    anything but a regular file: a FIFO would hang the build, a device would read without end."""
    if problem := file_problem(path, root):
        raise BadSampleError(path, problem)
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


def _check_jpeg(path: Path, data: bytes) -> None:
    """Walk the header segments to the first scan (so an EXIF thumbnail's markers do not count),
    then require an end-of-image marker after the last scan."""
    pos = 2
    while True:
        while pos < len(data) and data[pos] == 0xFF and pos + 1 < len(data) and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes
        if pos + 2 > len(data):
            raise BadSampleError(path, "truncated JPEG: the file ends inside its header, before any image data")
        if data[pos] != 0xFF:
            return  # not a marker where one must be: corrupt, Pillow's decoder reports it
        marker = data[pos + 1]
        if marker == 0xDA:
            break
        if marker == 0xD9:
            raise BadSampleError(path, "JPEG has an end-of-image marker but no image data")
        if marker in _JPEG_NO_LENGTH:
            pos += 2
            continue
        if pos + 4 > len(data):
            raise BadSampleError(path, "truncated JPEG: the file ends inside its header, before any image data")
        pos += 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]
    # 0xFF inside entropy-coded data is always byte-stuffed, so FFDA/FFD9 only occur as markers
    if data.rfind(b"\xff\xd9") < max(pos, data.rfind(b"\xff\xda")):
        raise BadSampleError(path, "truncated JPEG: no end-of-image marker after the last scan")


def _check_png(path: Path, data: bytes) -> None:
    """Walk the chunks (length, type, data, CRC) until a complete IEND chunk."""
    pos = len(_PNG_SIG)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 12 + length
        if end > len(data):
            raise BadSampleError(path, f"corrupt or truncated PNG: its {kind.decode('latin-1')!r} chunk at byte {pos} "
                                       f"runs past the end of the file ({len(data)} bytes)")
        if kind == b"IEND":
            return
        pos = end
    raise BadSampleError(path, "truncated PNG: the file ends before its IEND chunk")


def _check_complete(path: Path, data: bytes) -> None:
    """End-of-file structure of the containers we can check independently of Pillow's settings."""
    if data.startswith(_JPEG_SOI):
        _check_jpeg(path, data)
    elif data.startswith(_PNG_SIG):
        _check_png(path, data)
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        declared = struct.unpack("<I", data[4:8])[0] + 8
        if len(data) < declared:
            raise BadSampleError(path, f"truncated WebP: {len(data)} of its {declared} bytes")


def _decode(path: Path, root: Optional[Path]) -> tuple[Image.Image, bytes]:
    data = _read_bytes(path, root)
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
    return im, data


def _high_depth_colour(im: Image.Image, data: bytes) -> bool:
    """A >8-bit colour image that Pillow has reduced to 8 bits by dropping the low byte."""
    if im.format == "PNG":
        return data[24] == 16 and data[25] in (2, 4, 6)  # IHDR bit depth, colour type RGB / grey+alpha / RGBA
    if im.format == "TIFF" and im.mode in ("RGB", "RGBA"):
        bits = im.tag_v2.get(258, (8,))
        return max(bits if isinstance(bits, tuple) else (bits,)) > 8
    return False


def _decode_high_depth(path: Path, data: bytes, png_colour_type: Optional[int]) -> np.ndarray:
    """Exact 16-bit values in RGB(A) order (grey+alpha PNG: HxWx2)."""
    a = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if a is None or a.ndim != 3 or a.shape[2] not in (3, 4):
        raise BadSampleError(path, "16-bit colour image that OpenCV cannot decode")
    if png_colour_type == 4:  # OpenCV expands grey+alpha to BGRA
        return np.ascontiguousarray(a[:, :, [0, 3]])
    return np.ascontiguousarray(a[:, :, [2, 1, 0, 3][: a.shape[2]]])


def _as_array(im: Image.Image) -> np.ndarray:
    """Pixels as stored: 'I;16*' -> uint16, 'I' -> int32, '1' -> bool, palettes as indices."""
    a = np.asarray(im)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("="))
    return a


def read_image(path: str | os.PathLike, root: Optional[Path] = None) -> np.ndarray:
    """uint8 HxWx3 RGB; sources pass their dataset folder as ``root`` (see ``_read_bytes``). Palette, CMYK and YCbCr images go through Pillow's RGB conversion;
    grayscale, grey+alpha and RGBA (alpha dropped) and 16-bit images through ``to_rgb_uint8``
    (16-bit v -> round(v * 255 / 65535))."""
    path = Path(path)
    im, data = _decode(path, root)
    if _high_depth_colour(im, data):
        a = _decode_high_depth(path, data, data[25] if im.format == "PNG" else None)
        if a.shape[2] == 2:
            a = a[:, :, 0]
        mode = f"{im.mode} (16-bit)"
    else:
        if im.mode in _CONVERT_TO_RGB:
            im = im.convert("RGB")
        a = _as_array(im)
        if im.mode == "LA":
            a = a[:, :, 0]
        elif im.mode == "I":
            if a.size and (a.min() < 0 or a.max() > 65535):
                raise BadSampleError(path, f"32-bit image with values outside 0..65535 ({a.min()}..{a.max()})")
            a = a.astype(np.uint16)
        mode = im.mode
    try:
        return to_rgb_uint8(a, what=str(path))
    except ImageFormatError as e:
        raise BadSampleError(path, f"unsupported pixel format (Pillow mode {mode}): {e}") from None


def read_mask(path: str | os.PathLike, root: Optional[Path] = None) -> np.ndarray:
    """The stored values, unconverted: HxW (uint8, uint16, int32 or bool; palette PNGs give their
    indices) or HxWxC for colour masks (16-bit colour masks keep all 16 bits). Interpreting them
    is the reader's job."""
    path = Path(path)
    im, data = _decode(path, root)
    if _high_depth_colour(im, data):
        a = _decode_high_depth(path, data, data[25] if im.format == "PNG" else None)
    else:
        a = _as_array(im)
    if a.ndim not in (2, 3) or a.shape[0] < 1 or a.shape[1] < 1:
        raise BadSampleError(path, f"unexpected mask shape {a.shape} (Pillow mode {im.mode})")
    return a
