"""Bad inputs of the dataset readers (issue 9): each one gives a clear error that names the file or
sample and what is wrong, or is converted exactly where conversion is the right answer.

Reference conversions are computed here with numpy from pixel values written by a small PNG
encoder in this file (or decoded by OpenCV), never by the code under test."""
import json
import pickle
import re
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image, ImageFile
from pycocotools import mask as mask_utils

from benchmark.schema import encode_rle
from benchmark.data.sources import create_source
from benchmark.data.sources.errors import BadSampleError
from benchmark.data.sources.imageio import read_image, read_mask

from .conftest import run_cli

H, W = 12, 16
FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# --- helpers ---------------------------------------------------------------------------------------

def png_bytes(a: np.ndarray, colour_type: int, palette: np.ndarray | None = None) -> bytes:
    """A minimal PNG encoder (8/16-bit, filter 0): grey 0, RGB 2, palette 3, grey+alpha 4, RGBA 6."""
    depth = 16 if a.dtype == np.uint16 else 8
    h, w = a.shape[:2]
    row = ">u2" if depth == 16 else "u1"
    raw = b"".join(b"\x00" + np.ascontiguousarray(a[y]).astype(row).tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour_type, 0, 0, 0))
    if palette is not None:
        out += chunk(b"PLTE", palette.astype(np.uint8).tobytes())
    return out + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def to8(v: np.ndarray) -> np.ndarray:
    """The documented 16 -> 8 bit rule: round(v * 255 / 65535)."""
    return np.rint(v.astype(np.float64) * 255 / 65535).astype(np.uint8)


def rgb(h=H, w=W, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def save(path: Path, arr, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, **kw)
    return path


def coco_root(tmp_path: Path, images=None, anns=None, cats=None, extra=None) -> Path:
    """A COCO layout with one 12x16 image ``a.jpg`` (id 1) unless told otherwise."""
    root = tmp_path / "coco"
    save(root / "images/a.jpg", rgb(), quality=95)
    data = {"images": images if images is not None else [{"id": 1, "file_name": "a.jpg", "height": H, "width": W}],
            "annotations": anns if anns is not None else [],
            "categories": cats if cats is not None else [{"id": 1, "name": "thing"}]}
    data.update(extra or {})
    (root / "ann.json").write_text(json.dumps(data))
    return root


def coco(root: Path):
    return create_source("coco", root=str(root), annotations="ann.json", images="images")


def ann(seg, **kw) -> dict:
    return {"id": 5, "image_id": 1, "category_id": 1, "segmentation": seg, **kw}


# --- images: empty, truncated, not an image --------------------------------------------------------

def test_zero_byte_and_non_image_files_with_image_names(tmp_path):
    (tmp_path / "zero.jpg").write_bytes(b"")
    with pytest.raises(BadSampleError, match=r"zero.jpg: empty file \(0 bytes\)"):
        read_image(tmp_path / "zero.jpg")
    fakes = {"page.jpg": b"<!DOCTYPE html><html>404 Not Found</html>", "notes.png": b"just some text\n",
             "arch.png": b"PK\x03\x04" + bytes(40), "arr.jpg": b"\x93NUMPY" + bytes(60)}
    for name, data in fakes.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(BadSampleError, match=rf"{name}: not an image file Pillow can decode \(starts with b"):
            read_image(tmp_path / name)
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(BadSampleError, match="folder.png: is a directory"):
        read_mask(tmp_path / "folder.png")
    (tmp_path / "real_png.jpg").write_bytes(png_bytes(rgb(), 2))  # content decides, not the extension
    assert np.array_equal(read_image(tmp_path / "real_png.jpg"), rgb())


def _jpeg_with_thumbnail(tmp_path: Path) -> bytes:
    """A JPEG whose APP1 segment carries a complete small JPEG, as EXIF thumbnails do: its scan and
    end markers come before the main image's, so a plain marker search is fooled by a cut file."""
    save(tmp_path / "thumb.jpg", rgb(8, 8, 1), quality=80)
    save(tmp_path / "main.jpg", rgb(64, 64, 2), quality=90)
    thumb, main = (tmp_path / "thumb.jpg").read_bytes(), (tmp_path / "main.jpg").read_bytes()
    app1 = b"Exif\x00\x00" + thumb
    return main[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + main[2:]


@FAST
@given(frac=st.floats(0.0, 0.9999))
def test_property_any_cut_of_a_jpeg_or_png_is_an_error_naming_the_file(tmp_path, monkeypatch, frac):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # a global set elsewhere must not hide cuts
    for name, data in (("t.jpg", _jpeg_with_thumbnail(tmp_path)), ("t.png", png_bytes(rgb(40, 40), 2))):
        (tmp_path / name).write_bytes(data)
        assert read_image(tmp_path / name).shape[2] == 3  # the whole file decodes
        (tmp_path / f"cut_{name}").write_bytes(data[: max(1, int(len(data) * frac))])
        with pytest.raises(BadSampleError, match=rf"cut_{name}: .*(truncated|corrupt|not an image)"):
            read_image(tmp_path / f"cut_{name}")


@pytest.mark.parametrize("fmt, ext", [("WEBP", "webp"), ("BMP", "bmp"), ("TIFF", "tif")])
def test_truncated_webp_bmp_tiff(tmp_path, fmt, ext):
    p = save(tmp_path / f"a.{ext}", rgb(32, 32), format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    data = p.read_bytes()
    (tmp_path / f"cut.{ext}").write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(BadSampleError, match=rf"cut.{ext}: .*truncated"):
        read_image(tmp_path / f"cut.{ext}")


# --- images: pixel formats, converted exactly -------------------------------------------------------

MODES = st.sampled_from(["grey8", "grey16", "rgb8", "rgb16", "palette", "ga8", "ga16", "rgba8", "rgba16"])


@FAST
@given(mode=MODES, h=st.integers(1, 9), w=st.integers(1, 9), seed=st.integers(0, 2**16))
def test_property_every_pixel_format_becomes_the_reference_rgb_uint8(tmp_path, mode, h, w, seed):
    rng = np.random.default_rng(seed)
    dtype = np.uint16 if mode.endswith("16") else np.uint8
    top = 65536 if dtype == np.uint16 else 256
    channels = {"grey": 1, "rgb": 3, "ga": 2, "rgba": 4, "palette": 1}[mode.rstrip("0123456789")]
    a = rng.integers(0, top, (h, w, channels)).astype(dtype)
    if mode == "palette":
        pal = rng.integers(0, 256, (256, 3))
        data, want = png_bytes(a[..., 0], 3, pal), pal[a[..., 0]].astype(np.uint8)
    else:
        ctype = {1: 0, 3: 2, 2: 4, 4: 6}[channels]
        data = png_bytes(a[..., 0] if channels == 1 else a, ctype)
        colour = a[..., :1] if channels in (1, 2) else a[..., :3]  # alpha dropped, grey replicated
        colour = to8(colour) if dtype == np.uint16 else colour
        want = np.repeat(colour, 3, axis=2) if colour.shape[2] == 1 else colour
    (tmp_path / "x.png").write_bytes(data)
    out = read_image(tmp_path / "x.png")
    assert out.dtype == np.uint8 and out.shape == (h, w, 3) and out.flags.c_contiguous
    assert np.array_equal(out, want), mode


def test_16_bit_masks_keep_all_16_bits(tmp_path):
    a = np.random.default_rng(3).integers(0, 65536, (H, W, 3)).astype(np.uint16)
    (tmp_path / "m.png").write_bytes(png_bytes(a, 2))
    m = read_mask(tmp_path / "m.png")
    assert m.dtype == np.uint16 and np.array_equal(m, a)


def test_16_bit_rgb_tiff_and_cmyk_jpeg_against_opencv(tmp_path):
    a = np.random.default_rng(4).integers(0, 65536, (H, W, 3)).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "x.tif"), a[..., ::-1])
    assert np.array_equal(read_image(tmp_path / "x.tif"), to8(a))
    Image.fromarray(rgb()).convert("CMYK").save(tmp_path / "c.jpg", quality=100)
    ref = cv2.imread(str(tmp_path / "c.jpg"))[..., ::-1].astype(int)  # libjpeg's own CMYK -> RGB
    out = read_image(tmp_path / "c.jpg")
    assert out.shape == (H, W, 3) and np.abs(out.astype(int) - ref).max() <= 1


def test_unsupported_pixel_values_name_the_file(tmp_path):
    Image.fromarray(np.full((H, W), 70000, np.int32), mode="I").save(tmp_path / "i32.tif")
    with pytest.raises(BadSampleError, match=r"i32.tif: 32-bit image with values outside 0..65535"):
        read_image(tmp_path / "i32.tif")
    Image.fromarray(np.full((H, W), 3.5, np.float32), mode="F").save(tmp_path / "f.tif")
    with pytest.raises(BadSampleError, match=r"f.tif: unsupported pixel format \(Pillow mode F\)"):
        read_image(tmp_path / "f.tif")


# --- masks of folder-style readers: size, empty/full, values -------------------------------------------

def _folder(tmp_path: Path, mask: np.ndarray, name="image_mask_folders", **opts):
    save(tmp_path / "f/images/a.jpg", rgb(), quality=95)
    save(tmp_path / "f/masks/a.png", mask)
    return create_source(name, root=str(tmp_path / "f"), **opts)


def test_mask_of_the_wrong_size_names_mask_and_image(tmp_path):
    src = _folder(tmp_path, np.zeros((H + 1, W), np.uint8))
    with pytest.raises(BadSampleError, match=r"masks/a.png: mask is 16x13 \(WxH\) but its image a.jpg is 16x12"):
        src[0]


@pytest.mark.parametrize("mask, objects", [
    (np.zeros((H, W), np.uint8), 0),  # empty: dropped
    (np.full((H, W), 255, np.uint8), 1),  # full: kept
    (np.ones((H, W), np.uint8), 1),  # full 0/1 mask: kept
    (np.full((H, W, 3), 255, np.uint8), 1),  # full, grey stored as RGB
])
def test_empty_masks_are_dropped_and_full_masks_kept(tmp_path, mask, objects):
    s = _folder(tmp_path, mask)[0]
    assert len(s.objects) == objects
    if objects:
        assert s.objects[0].mask.all() and s.objects[0].mask.shape == (H, W)


def test_colour_mask_in_binary_mode_is_refused_with_the_alternatives(tmp_path):
    m = np.zeros((H, W, 3), np.uint8)
    m[2:5, 3:6] = (255, 0, 0)
    m[6:9, 3:6] = (0, 0, 255)
    src = _folder(tmp_path, m)
    with pytest.raises(BadSampleError, match=r"a.png: colour mask \(pixel \(255, 0, 0\) at x=3, y=2\) in binary "
                                             r"mode.*mask_mode=labels"):
        src[0]
    labels = create_source("image_mask_folders", root=str(tmp_path / "f"), mask_mode="labels")[0]
    assert sorted(int(o.mask.sum()) for o in labels.objects) == [9, 9]


def test_instance_id_maps_with_unexpected_values(tmp_path):
    root = tmp_path / "cs"
    save(root / "leftImg8bit/val/x/x_1_leftImg8bit.png", rgb())
    ids = np.full((H, W), 7, np.uint16)
    ids[:4, :4] = 26001
    ids[5:, 5:] = 40  # not a Cityscapes label id
    save(root / "gtFine/val/x/x_1_gtFine_instanceIds.png", ids)
    with pytest.raises(BadSampleError, match=r"x_1_gtFine_instanceIds.png: unexpected values \[40\] in an "
                                             r"instanceIds map"):
        create_source("cityscapes", root=str(root))[0]
    ids[5:, 5:] = 7001  # class 7 (road) has no instances
    save(root / "gtFine/val/x/x_1_gtFine_instanceIds.png", ids)
    with pytest.raises(BadSampleError, match=r"unexpected values \[7001\]"):
        create_source("cityscapes", root=str(root))[0]
    ids[5:, 5:] = 24000
    save(root / "gtFine/val/x/x_1_gtFine_instanceIds.png", ids)
    s = create_source("cityscapes", root=str(root))[0]
    assert [(o.id, o.category, int(o.mask.sum())) for o in s.objects] == [(24000, "person", 77), (26001, "car", 16)]


def test_acdc_panoptic_png_with_unlisted_segment(tmp_path):
    root = tmp_path / "acdc"
    save(root / "rgb_anon/fog/val/GOPR1/GOPR1_f1_rgb_anon.png", rgb())
    pan = np.zeros((H, W, 3), np.uint8)
    pan[:4, :4] = (5, 0, 0)
    pan[6:, 6:] = (9, 0, 0)  # segment 9 is not in segments_info
    save(root / "gt_panoptic/fog/val/GOPR1/GOPR1_f1_gt_panoptic.png", pan)
    pj = {"categories": [{"id": 26, "name": "car", "isthing": 1}],
          "annotations": [{"file_name": "GOPR1_f1_gt_panoptic.png", "segments_info": [{"id": 5, "category_id": 26}]}]}
    (root / "pan.json").write_text(json.dumps(pj))
    src = create_source("acdc", root=str(root), panoptic_json="pan.json")
    with pytest.raises(BadSampleError, match=r"GOPR1_f1_gt_panoptic.png: segment ids \[9\] are in the PNG but not"):
        src[0]
    del pj["annotations"][0]["segments_info"][0]["category_id"]
    (root / "pan.json").write_text(json.dumps(pj))
    with pytest.raises(ValueError, match=r"pan.json is not a COCO-panoptic json .*missing field 'category_id'"):
        create_source("acdc", root=str(root), panoptic_json="pan.json")


def test_bdd100k_bitmask_that_is_not_rgba_or_has_unknown_categories(tmp_path):
    root = tmp_path / "bdd"
    save(root / "images/10k/val/f1.jpg", rgb(), quality=95)
    save(root / "labels/ins_seg/bitmasks/val/f1.png", np.zeros((H, W, 3), np.uint8))
    src = create_source("bdd100k", root=str(root), attributes="")
    with pytest.raises(BadSampleError, match=r"f1.png: BDD100K bitmasks are 8-bit RGBA, got shape \(12, 16, 3\)"):
        src[0]
    bm = np.zeros((H, W, 4), np.uint8)
    bm[:3, :3] = (77, 0, 0, 1)
    save(root / "labels/pan_seg/bitmasks/val/f1.png", bm)
    with pytest.raises(BadSampleError, match=r"f1.png: category id 77 in the R channel; pan_seg ids are 0..40"):
        create_source("bdd100k", root=str(root), task="pan_seg", attributes="")[0]
    (root / "labels/ins_seg/polygons").mkdir(parents=True)
    (root / "labels/ins_seg/polygons/ins_seg_val.json").write_text(json.dumps([{"labels": []}]))
    with pytest.raises(ValueError, match=r"ins_seg_val.json: frame 0 has no 'name'"):
        create_source("bdd100k", root=str(root), labels="polygons", attributes="")
    frames = [{"name": "f1.jpg", "labels": [{"id": "1", "category": "car",
                                             "poly2d": [{"vertices": [[1, 1], [9, 1], [9]], "types": "LLL"}]}]}]
    (root / "labels/ins_seg/polygons/ins_seg_val.json").write_text(json.dumps(frames))
    with pytest.raises(BadSampleError, match=r"ins_seg_val.json \(f1 label 1\): bad poly2d: every poly2d vertex"):
        create_source("bdd100k", root=str(root), labels="polygons", attributes="")[0]


# --- RobustSAM .npy masks ------------------------------------------------------------------------------

class _Payload:
    """Unpickling this would create a file: the proof that a pickle ran code."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def _release(tmp_path: Path, write_mask) -> object:
    base = tmp_path / "rs/test"
    save(base / "clear/sa_1.jpg", rgb(), quality=95)
    (base / "masks").mkdir()
    write_mask(base / "masks/sa_1.npy")
    return create_source("robustsam_release", root=str(tmp_path / "rs"))


@pytest.mark.parametrize("write, message", [
    (lambda p: np.save(p, np.zeros((1, H, W + 2), bool)), r"masks are 18x12 \(WxH\) but sa_1.jpg is 16x12"),
    (lambda p: np.save(p, np.zeros((1, 1, H, W), bool)), r"expected \(N, H, W\) masks, got shape \(1, 1, 12, 16\)"),
    (lambda p: np.save(p, np.zeros(5, bool)), r"expected \(N, H, W\) masks, got shape \(5,\)"),
    (lambda p: np.save(p, np.full((1, H, W), 0.5)), r"expected boolean \(or 0/1\) masks, got dtype float64"),
    (lambda p: np.save(p, np.full((1, H, W), 2, np.uint8)), r"expected boolean \(or 0/1\) masks, got dtype uint8"),
    (lambda p: p.write_bytes(b""), r"not a readable .npy array"),
    (lambda p: p.write_bytes(b"\x93NUMPY\x01\x00" + b"garbage"), r"not a readable .npy array"),
    (lambda p: np.savez(p.with_suffix(""), m=np.zeros((1, H, W), bool)) or p.with_suffix(".npz").rename(p),
     r"an .npz archive, not a single .npy array"),
])
def test_npy_masks_of_the_wrong_shape_dtype_or_format(tmp_path, write, message):
    src = _release(tmp_path, write)
    with pytest.raises(BadSampleError, match=r"masks/sa_1.npy: " + message):
        src[0]


@pytest.mark.parametrize("how", ["object_array", "raw_pickle"])
def test_pickled_npy_is_refused_and_never_runs(tmp_path, how):
    marker = tmp_path / "pickle_ran"
    payload = _Payload(str(marker))

    def write(p: Path):
        if how == "object_array":
            arr = np.empty(1, dtype=object)
            arr[0] = payload
            np.save(p, arr, allow_pickle=True)
        else:
            p.write_bytes(pickle.dumps(payload))

    src = _release(tmp_path, write)
    with pytest.raises(BadSampleError, match=r"sa_1.npy: not a readable .npy array: .*(pickle|allow_pickle)"):
        src[0]
    assert not marker.exists()


def test_npy_empty_masks_dropped_full_kept(tmp_path):
    m = np.zeros((3, H, W), bool)
    m[1] = True
    s = _release(tmp_path, lambda p: np.save(p, m))[0]
    assert [o.id for o in s.objects] == [2] and s.objects[0].mask.all()


# --- COCO json -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("drop", ["images", "annotations", "categories"])
def test_coco_json_without_a_top_level_list(tmp_path, drop):
    root = coco_root(tmp_path)
    data = json.loads((root / "ann.json").read_text())
    del data[drop]
    (root / "ann.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=rf"coco: .*ann.json has no '{drop}' list"):
        coco(root)
    (root / "ann.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"ann.json must hold a JSON object"):
        coco(root)
    (root / "ann.json").write_text('{"images": [')
    with pytest.raises(ValueError, match=r"ann.json is not valid JSON"):
        coco(root)


@pytest.mark.parametrize("anns, message", [
    ([ann([[1, 1, 8, 1, 8, 8]], image_id=99)], r"annotation 5 names image 99, which is not in 'images'"),
    ([ann([[1, 1, 8, 1, 8, 8]], category_id=42)], r"annotation 5 has unknown category 42"),
    ([{"id": 5, "category_id": 1, "segmentation": []}], r"annotation 5 has no 'image_id'"),
    ([{"id": 5, "image_id": 1, "segmentation": []}], r"annotation 5 has no 'category_id'"),
    ([ann([], id="five")], r"annotation 'five': 'id' must be an integer"),
])
def test_coco_dangling_ids_and_missing_keys_stop_at_construction(tmp_path, anns, message):
    with pytest.raises(ValueError, match=r"coco: .*ann.json: " + message):
        coco(coco_root(tmp_path, anns=anns))


def test_coco_duplicate_and_missing_image_ids(tmp_path):
    img = {"id": 1, "file_name": "a.jpg", "height": H, "width": W}
    with pytest.raises(ValueError, match=r"ann.json: image id 1 is duplicated"):
        coco(coco_root(tmp_path, images=[img, img]))
    with pytest.raises(ValueError, match=r"ann.json: an image record has no 'id'"):
        coco(coco_root(tmp_path, images=[{"file_name": "a.jpg", "height": H, "width": W}]))
    with pytest.raises(ValueError, match=r"ann.json: category 3 needs 'id' and 'name'"):
        coco(coco_root(tmp_path, cats=[{"id": 3}]))


@pytest.mark.parametrize("image, message", [
    ({"id": 1, "height": H, "width": W}, r"image record has no usable 'file_name' \(None\)"),
    ({"id": 1, "file_name": "a.jpg", "width": W}, r"image record has no 'height'"),
    ({"id": 1, "file_name": "a.jpg"}, r"image record has no 'height' or 'width'"),
    ({"id": 1, "file_name": "a.jpg", "height": 0, "width": W}, r"height/width must be positive integers, got 0x16"),
    ({"id": 1, "file_name": "../../etc/passwd", "height": H, "width": W}, r"points outside the image folder"),
    ({"id": 1, "file_name": "/etc/passwd", "height": H, "width": W}, r"points outside the image folder"),
])
def test_coco_bad_image_record_is_a_bad_sample_naming_json_and_image(tmp_path, image, message):
    src = coco(coco_root(tmp_path, images=[image]))
    with pytest.raises(BadSampleError, match=r"ann.json \(image 1\): .*" + message):
        src[0]


def test_coco_json_size_differs_from_the_image(tmp_path):
    src = coco(coco_root(tmp_path, images=[{"id": 1, "file_name": "a.jpg", "height": H, "width": W + 1}]))
    with pytest.raises(BadSampleError, match=r"a.jpg: image is 16x12 but the json says 17x12"):
        src[0]


def _full_rle(h=H, w=W) -> dict:
    return encode_rle(np.ones((h, w), bool))


@pytest.mark.parametrize("seg, message", [
    (None, r"annotation has no 'segmentation'"),
    ({**_full_rle(), "size": [W, H]}, r"RLE size \[16, 12\] differs from the image size \[12, 16\]"),
    (_full_rle(H + 1), r"RLE size \[13, 16\] differs from the image size \[12, 16\]"),
    ({"size": [H, W], "counts": [10, 20]}, r"RLE runs cover 30 pixels .*not the image's 12x16 = 192"),
    ({"size": [H, W], "counts": [100, 200]}, r"RLE runs cover 300 pixels"),
    ({"size": [H, W], "counts": [100, -8, 100]}, r"min run -8"),
    ({"size": [H, W], "counts": "0"}, r"RLE runs cover 0 pixels"),
    ({"size": [H, W], "counts": "\u00e9\u00e9"}, r"corrupt compressed RLE"),
    ({"size": [H, W], "counts": "2o"}, r"corrupt compressed RLE: compressed RLE string ends inside a number"),
    ({"size": "12x16", "counts": "0"}, r"RLE size must be \[height, width\], got '12x16'"),
    ([[1, 1, 8, 1, 8]], r"polygon part 0 has an odd number of coordinates \(5\)"),
    ([[1, 1, 8, 1, "8", 8]], r"polygon part 0 has a coordinate that is not a finite number"),
    ([1, 1, 8, 1, 8, 8], r"polygon segmentation must be a list of coordinate lists; part 0 is a int"),
    ("polygon", r"unrecognised segmentation of type str"),
])
def test_coco_bad_segmentation_is_a_bad_sample_naming_json_and_annotation(tmp_path, seg, message):
    src = coco(coco_root(tmp_path, anns=[ann(seg)] if seg is not None else [
        {"id": 5, "image_id": 1, "category_id": 1}]))
    with pytest.raises(BadSampleError, match=r"ann.json \(annotation 5\): .*" + message):
        src[0]


def test_coco_polygon_parts_with_fewer_than_3_points_are_ignored_and_full_masks_kept(tmp_path):
    good = [2.0, 2.0, 12.0, 2.0, 12.0, 9.0]
    anns = [ann([[1, 1, 5, 5], good]), ann([[1, 1, 5, 5]], id=6), ann(_full_rle(), id=7),
            ann({"size": [H, W], "counts": [H * W]}, id=8)]
    s = coco(coco_root(tmp_path, anns=anns))[0]
    want = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([good], H, W))).astype(bool)
    assert [o.id for o in s.objects] == [5, 7]  # 6 (only a 2-point part) and 8 (empty RLE) are dropped
    assert np.array_equal(s.objects[0].mask, want) and s.objects[1].mask.all()


VALUES = st.sampled_from([None, "x", -1, 0, 1.5, [], {}, [1, 2, 3], {"a": 1}, True, float("nan")])
FIELDS = st.sampled_from([("images", k) for k in ("id", "file_name", "height", "width")]
                         + [("annotations", k) for k in ("id", "image_id", "category_id", "segmentation", "iscrowd")]
                         + [("categories", k) for k in ("id", "name")])


@FAST
@given(edits=st.lists(st.tuples(FIELDS, VALUES, st.booleans()), min_size=1, max_size=3))
def test_property_any_mutated_coco_json_fails_cleanly(tmp_path, edits):
    """Whatever field is removed or retyped: a ValueError naming the json at construction, or per
    sample a Sample or a BadSampleError naming the json or the image, never another exception."""
    data = {"images": [{"id": 1, "file_name": "a.jpg", "height": H, "width": W}],
            "annotations": [ann([[1.0, 1.0, 9.0, 1.0, 9.0, 9.0]]), ann(_full_rle(), id=6)],
            "categories": [{"id": 1, "name": "thing"}]}
    for (table, key), value, delete in edits:
        rec = data[table][-1]
        if delete:
            rec.pop(key, None)
        else:
            rec[key] = value
    root = coco_root(tmp_path, data["images"], data["annotations"], data["categories"])
    try:
        src = coco(root)
    except ValueError as e:
        assert "ann.json" in str(e)
        return
    for i in range(len(src)):
        try:
            s = src[i]
        except BadSampleError as e:
            assert e.path.startswith(str(root)) and e.reason, e  # the json, or an image file named by it
        else:
            assert s.image.shape == (H, W, 3) and all(o.mask.shape == (H, W) and o.mask.any() for o in s.objects)


# --- NDD20 VIA json ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape, message", [
    ({"name": "polygon", "all_points_x": [1, 9, 9]}, r"needs the lists 'all_points_x' and 'all_points_y'"),
    ({"name": "polygon", "all_points_x": [1, 9, 9], "all_points_y": [1, 1]}, r"has 3 x but 2 y coordinates"),
    ({"name": "rect", "x": 1, "y": 1, "width": 5, "height": 5}, r"unsupported VIA shape 'rect'"),
])
def test_ndd20_bad_regions_name_json_image_and_region(tmp_path, shape, message):
    root = tmp_path / "ndd"
    save(root / "ABOVE/d1.jpg", rgb(), quality=95)
    via = {"d1.jpg123": {"filename": "d1.jpg", "regions": [{"shape_attributes": shape, "region_attributes": {}}]}}
    (root / "ABOVE_LABELS.json").write_text(json.dumps(via))
    src = create_source("ndd20", root=str(root), views="above")
    with pytest.raises(BadSampleError, match=r"ABOVE_LABELS.json \(d1.jpg region 0\): .*" + message):
        src[0]


def test_ndd20_filename_outside_the_image_folder_is_refused(tmp_path):
    root = tmp_path / "ndd"
    (root / "ABOVE").mkdir(parents=True)
    (root / "ABOVE_LABELS.json").write_text(json.dumps({"k": {"filename": "../../secret.jpg", "regions": []}}))
    with pytest.raises(ValueError, match=r"ABOVE_LABELS.json: entry 'k': filename '../../secret.jpg' points outside"):
        create_source("ndd20", root=str(root), views="above")


# --- through the CLI ------------------------------------------------------------------------------------------

def _one_error_line(r) -> str:
    errors = [line for line in r.stderr.splitlines() if line.startswith("robustseg: error:")]
    assert r.returncode == 2 and len(errors) == 1 and "Traceback" not in r.stderr, r.stderr
    return errors[0]


def _coco_two_images(tmp_path: Path, bad_ann: dict) -> Path:
    root = coco_root(tmp_path, images=[{"id": 1, "file_name": "a.jpg", "height": H, "width": W},
                                       {"id": 2, "file_name": "b.jpg", "height": H, "width": W}],
                     anns=[ann([[1, 1, 9, 1, 9, 9]]), {**bad_ann, "id": 6, "image_id": 2}])
    save(root / "images/b.jpg", rgb(seed=1), quality=95)
    return root


def test_cli_bad_annotation_stops_naming_it_or_is_skipped_and_listed(tmp_path):
    root = _coco_two_images(tmp_path, {"category_id": 1})
    args = ["build", "--source", "coco", "--root", root, "--source-option", "annotations=ann.json",
            "--source-option", "images=images", "--profile", "clear"]
    line = _one_error_line(run_cli(*args, "--out", tmp_path / "a"))
    assert re.search(r"ann.json \(annotation 6\): annotation has no 'segmentation'$", line), line
    assert not (tmp_path / "a/manifest.json").exists()
    r = run_cli(*args, "--skip-bad", "--out", tmp_path / "b")
    assert r.returncode == 0, r.stderr
    manifest = json.loads((tmp_path / "b/manifest.json").read_text())
    assert len(manifest["skipped"]) == 1 and "ann.json (annotation 6)" in manifest["skipped"][0]["error"]
    assert manifest["splits"]["default"]["clear"]["rows"] == 1


def test_cli_dangling_id_stops_even_with_skip_bad(tmp_path):
    root = _coco_two_images(tmp_path, {"category_id": 99, "segmentation": []})
    line = _one_error_line(run_cli("build", "--source", "coco", "--root", root, "--source-option",
                                   "annotations=ann.json", "--source-option", "images=images", "--profile", "clear",
                                   "--skip-bad", "--out", tmp_path / "a"))
    assert "ann.json: annotation 6 has unknown category 99" in line
    assert not (tmp_path / "a/manifest.json").exists()


def test_cli_pickled_npy_and_wrong_size_mask(tmp_path):
    base = tmp_path / "rs/test"
    for k in range(2):
        save(base / f"clear/sa_{k}.jpg", rgb(seed=k), quality=95)
    (base / "masks").mkdir()
    np.save(base / "masks/sa_0.npy", np.ones((1, H, W), bool))
    arr = np.empty(1, dtype=object)
    arr[0] = _Payload(str(tmp_path / "pickle_ran"))
    np.save(base / "masks/sa_1.npy", arr, allow_pickle=True)
    args = ["build", "--source", "robustsam_release", "--root", tmp_path / "rs", "--profile", "clear"]
    line = _one_error_line(run_cli(*args, "--out", tmp_path / "a"))
    assert "masks/sa_1.npy: not a readable .npy array" in line and not (tmp_path / "pickle_ran").exists()
    r = run_cli(*args, "--skip-bad", "--out", tmp_path / "b")
    assert r.returncode == 0, r.stderr
    skipped = json.loads((tmp_path / "b/manifest.json").read_text())["skipped"]
    assert len(skipped) == 1 and "sa_1.npy" in skipped[0]["error"]

    save(tmp_path / "f/images/a.jpg", rgb(), quality=95)
    save(tmp_path / "f/masks/a.png", np.zeros((H, W + 3), np.uint8))
    line = _one_error_line(run_cli("build", "--source", "image_mask_folders", "--root", tmp_path / "f",
                                   "--profile", "clear", "--out", tmp_path / "c"))
    assert "masks/a.png: mask is 19x12 (WxH) but its image a.jpg is 16x12" in line



@pytest.mark.parametrize("name", ["coco", "lvis"])
def test_build_identity_changes_with_the_annotation_files_content(tmp_path, name):
    """The annotation json's sha256 is part of a COCO-family build's identity, beside its (unchanged) name:
    editing the json under the same name must change the fingerprint, so a resumed build never mixes the two."""
    root = coco_root(tmp_path, anns=[ann([[2.0, 2.0, 10.0, 2.0, 10.0, 9.0]])])
    opts = {"annotations": "ann.json"} | ({"images": "images"} if name == "coco" else {})
    if name == "lvis":
        data = json.loads((root / "ann.json").read_text())
        data["images"][0]["coco_url"] = "http://images.cocodataset.org/images/a.jpg"
        (root / "ann.json").write_text(json.dumps(data))
    before = create_source(name, root=str(root), **opts).params()
    data = json.loads((root / "ann.json").read_text())
    data["annotations"][0]["segmentation"] = [[2.0, 2.0, 11.0, 2.0, 11.0, 9.0]]
    (root / "ann.json").write_text(json.dumps(data))
    after = create_source(name, root=str(root), **opts).params()
    assert before["annotations"] == after["annotations"] == "ann.json"
    assert before["annotations_sha256"] != after["annotations_sha256"]
