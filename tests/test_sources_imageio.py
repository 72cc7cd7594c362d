"""read_image / read_mask: every failure names the file; every supported pixel format decodes."""
import io

import numpy as np
import pytest
from PIL import Image, ImageFile

from benchmark.data.sources.errors import BadSampleError
from benchmark.data.sources.imageio import read_image, read_mask


def _rgb(h=24, w=32):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 7 % 256, y * 11 % 256, (x + y) * 5 % 256], -1).astype(np.uint8)


def _save(tmp_path, name, im, fmt=None, **kw):
    p = tmp_path / name
    im.save(p, fmt, **kw)
    return p


def test_missing_empty_and_non_image_name_the_file(tmp_path):
    with pytest.raises(BadSampleError, match="nope.jpg: file not found"):
        read_image(tmp_path / "nope.jpg")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(BadSampleError, match=r"empty.png: empty file \(0 bytes\)"):
        read_image(tmp_path / "empty.png")
    (tmp_path / "notes.jpg").write_text("not an image at all")
    with pytest.raises(BadSampleError, match="notes.jpg: not an image file"):
        read_mask(tmp_path / "notes.jpg")


@pytest.mark.parametrize("cut", [2, 100, 0.5])
def test_truncated_jpeg_is_an_error_even_when_pillow_tolerates_it(tmp_path, monkeypatch, cut):
    data = (tmp_path / "a.jpg")
    Image.fromarray(_rgb(64, 64)).save(data, quality=90)
    raw = data.read_bytes()
    n = int(len(raw) * cut) if isinstance(cut, float) else len(raw) - cut
    (tmp_path / "cut.jpg").write_bytes(raw[:n])
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # a user's global setting must not hide it
    with pytest.raises(BadSampleError, match="cut.jpg: truncated JPEG"):
        read_image(tmp_path / "cut.jpg")


def test_truncated_png_is_an_error(tmp_path):
    raw = io.BytesIO()
    Image.fromarray(_rgb()).save(raw, "PNG")
    raw = raw.getvalue()
    (tmp_path / "noend.png").write_bytes(raw[:-12])  # pixels complete, IEND chunk missing: Pillow accepts it
    with pytest.raises(BadSampleError, match="noend.png: truncated PNG"):
        read_mask(tmp_path / "noend.png")
    (tmp_path / "half.png").write_bytes(raw[: len(raw) // 2] + raw[-12:])
    with pytest.raises(BadSampleError, match="half.png: corrupt or truncated"):
        read_image(tmp_path / "half.png")


def test_pixel_formats_become_rgb_uint8(tmp_path):
    rgb = _rgb()
    gray = rgb[..., 0]
    out = read_image(_save(tmp_path, "g.png", Image.fromarray(gray)))
    assert out.dtype == np.uint8 and out.shape == (24, 32, 3) and (out == gray[..., None]).all()
    rgba = np.dstack([rgb, np.full(gray.shape, 7, np.uint8)])
    assert (read_image(_save(tmp_path, "a.png", Image.fromarray(rgba))) == rgb).all()
    pal = Image.fromarray(rgb).quantize(colors=16)
    assert (read_image(_save(tmp_path, "p.png", pal)) == np.asarray(pal.convert("RGB"))).all()
    g16 = (gray.astype(np.uint16) * 257)
    assert (read_image(_save(tmp_path, "g16.png", Image.fromarray(g16))) == gray[..., None]).all()
    cmyk = Image.fromarray(rgb).convert("CMYK")
    out = read_image(_save(tmp_path, "c.jpg", cmyk, quality=100))
    assert out.shape == (24, 32, 3) and np.abs(out.astype(int) - np.asarray(cmyk.convert("RGB"), int)).max() <= 8


def test_read_mask_keeps_stored_values(tmp_path):
    ids = (np.arange(24 * 32).reshape(24, 32) * 37 % 5000).astype(np.uint16)
    m = read_mask(_save(tmp_path, "ids.png", Image.fromarray(ids)))
    assert m.dtype in (np.uint16, np.int32) and (m == ids).all()
    labels = (np.arange(24 * 32).reshape(24, 32) % 4).astype(np.uint8)
    p = Image.fromarray(labels, mode="L").convert("P")
    p.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 756)
    assert (read_mask(_save(tmp_path, "pal.png", p)) == labels).all()  # indices, not colours


def test_exif_orientation_is_not_applied(tmp_path):
    rgb = _rgb(20, 40)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    out = read_image(_save(tmp_path, "o.jpg", Image.fromarray(rgb), exif=exif.tobytes(), quality=100))
    assert out.shape == (20, 40, 3)  # stored pixel grid, as COCO annotations use it
