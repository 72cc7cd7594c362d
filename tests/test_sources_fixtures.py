"""Readers for formats absent from ../shared/data, on tiny fixtures written here in each format's
published layout (docs followed are named in docs/sources.md), plus the bad-input contract."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from benchmark.data.sources import create_source
from benchmark.data.sources.bdd100k import bdd_condition
from benchmark.data.sources.errors import BadSampleError

H, W = 24, 32


def img(path: Path, seed=0, size=(H, W)):
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    Image.fromarray(a).save(path, quality=95) if path.suffix.lower() in (".jpg", ".jpeg") else Image.fromarray(a).save(path)
    return a


def png(path: Path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def rect(y0, y1, x0, x1, size=(H, W)):
    m = np.zeros(size, bool)
    m[y0:y1, x0:x1] = True
    return m


def coco_json(path: Path, images, anns, cats):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))


# --- COCO family -----------------------------------------------------------------------------------

def test_lvis_v1_images_from_coco_url(tmp_path):
    img(tmp_path / "val2017/000000000001.jpg")
    img(tmp_path / "train2017/000000000002.jpg", 1)
    poly = [2.0, 2.0, 20.0, 2.0, 20.0, 12.0, 2.0, 12.0]
    coco_json(tmp_path / "lvis_v1_val.json",
              [{"id": 2, "width": W, "height": H, "coco_url": "http://images.cocodataset.org/train2017/000000000002.jpg"},
               {"id": 1, "width": W, "height": H, "coco_url": "http://images.cocodataset.org/val2017/000000000001.jpg"}],
              [{"id": 7, "image_id": 1, "category_id": 3, "segmentation": [poly], "bbox": [2, 2, 18, 10], "area": 1.0},
               {"id": 8, "image_id": 2, "category_id": 3, "segmentation": [[0, 0, 0, 0, 0, 0]], "bbox": [0, 0, 0, 0],
                "area": 0.0}],  # a zero-area polygon: dropped
              [{"id": 3, "name": "aerosol_can", "synset": "can.n.01", "frequency": "c"}])
    src = create_source("lvis", root=str(tmp_path))
    assert [src[i].image_id for i in range(2)] == ["1", "2"]
    s = src[0]
    want = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([poly], H, W))).astype(bool)
    assert len(s.objects) == 1 and s.objects[0].category == "aerosol_can" and np.array_equal(s.objects[0].mask, want)
    assert src[1].objects == []


def test_lis_dark_and_normal_conditions(tmp_path):
    root = tmp_path / "LIS"
    img(root / "RGB-dark/JPEGImages/2.JPG")
    img(root / "RGB-normal/JPEGImages/1.png", 1)
    rle = mask_utils.encode(np.asfortranarray(rect(3, 9, 4, 20).astype(np.uint8)))
    rle["counts"] = rle["counts"].decode()
    for name, fn, iid in (("lis_coco_JPG_test+1.json", "2.JPG", 2), ("lis_coco_png_test.json", "1.png", 1)):
        coco_json(root / "annotations" / name, [{"id": iid, "file_name": fn, "width": W, "height": H}],
                  [{"id": 1, "image_id": iid, "category_id": 2, "segmentation": rle, "iscrowd": 0}],
                  [{"id": 2, "name": "car"}])
    src = create_source("lis", root=str(root))
    got = {(src[i].image_id, src[i].condition) for i in range(len(src))}
    assert got == {("dark_2", "low_light"), ("normal_1", "clear")}
    assert all(np.array_equal(src[i].objects[0].mask, rect(3, 9, 4, 20)) for i in range(2))


def test_streets_is_read_as_coco(tmp_path):
    img(tmp_path / "images/cam1_0001.jpg")
    counts = mask_utils.encode(np.asfortranarray(rect(5, 10, 5, 10).astype(np.uint8)))
    unc = {"size": [H, W], "counts": [int(c) for c in _runs(rect(5, 10, 5, 10))]}
    coco_json(tmp_path / "annotations/instances.json", [{"id": 1, "file_name": "cam1_0001.jpg", "width": W, "height": H}],
              [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": unc, "iscrowd": 1}], [{"id": 1, "name": "vehicle"}])
    s = create_source("streets", root=str(tmp_path))[0]
    assert s.objects[0].iscrowd and np.array_equal(s.objects[0].mask, mask_utils.decode(counts).astype(bool))


def _runs(mask):
    """COCO uncompressed RLE counts (column-major, starting with a background run)."""
    flat = mask.flatten(order="F").astype(np.int8)
    change = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
    return np.diff(np.concatenate([[0], change]))


# --- image + mask folders ----------------------------------------------------------------------------

@pytest.mark.parametrize("name,img_rel,mask_rel,extra", [
    ("duts", "DUTS-TE/DUTS-TE-Image/ILSVRC2012_test_00000003.jpg", "DUTS-TE/DUTS-TE-Mask/ILSVRC2012_test_00000003.png", None),
    ("msra10k", "MSRA10K_Imgs_GT/Imgs/75.jpg", "MSRA10K_Imgs_GT/Imgs/75.png", None),
    ("hku_is", "imgs/0004.png", "gt/0004.png", None),
    ("thinobject5k", "images/fan_1.jpg", "masks/fan_1.png", ("list/test.txt", "fan_1.jpg\n")),
])
def test_salient_and_thin_object_layouts(tmp_path, name, img_rel, mask_rel, extra):
    img(tmp_path / img_rel)
    m = np.zeros((H, W), np.uint8)
    m[4:12, 6:20] = 255
    m[12, 6:20] = 100  # anti-aliased edge below half: background
    m[3, 6:20] = 200  # above half: foreground
    png(tmp_path / mask_rel, m)
    if extra:
        (tmp_path / extra[0]).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / extra[0]).write_text(extra[1])
    src = create_source(name, root=str(tmp_path))
    assert len(src) == 1
    s = src[0]
    assert s.image_id == Path(img_rel).stem and np.array_equal(s.objects[0].mask, m > 127)


def test_label_masks_and_fss_class_layout(tmp_path):
    img(tmp_path / "images/a.jpg")
    lab = np.zeros((H, W), np.uint8)
    lab[2:6, 2:6], lab[10:20, 10:30] = 3, 9
    png(tmp_path / "masks/a.png", lab)
    s = create_source("image_mask_folders", root=str(tmp_path), mask_mode="labels")[0]
    assert [(o.id, int(o.mask.sum())) for o in s.objects] == [(3, 16), (9, 200)]
    for cls in ("ab_wheel", "zebra"):
        for n in (1, 2, 10):
            img(tmp_path / "fss" / cls / f"{n}.jpg", n)
            png(tmp_path / "fss" / cls / f"{n}.png", np.where(rect(1, 5, 1, 5), 255, 0).astype(np.uint8))
    src = create_source("fss1000", root=str(tmp_path / "fss"))
    assert [src[i].image_id for i in range(len(src))] == ["ab_wheel_1", "ab_wheel_2", "ab_wheel_10", "zebra_1",
                                                         "zebra_2", "zebra_10"]
    assert src[4].objects[0].category == "zebra" and src[4].objects[0].mask.sum() == 16


# --- NDD20 (VIA json) --------------------------------------------------------------------------------

def test_ndd20_via_polygons(tmp_path):
    img(tmp_path / "ABOVE/0001.jpg")
    img(tmp_path / "BELOW/0001.jpg", 1)
    region = {"shape_attributes": {"name": "polygon", "all_points_x": [2, 20, 20, 2], "all_points_y": [2, 2, 12, 12]},
              "region_attributes": {"species": "white beaked", "id": "17", "out of focus": "false"}}
    (tmp_path / "ABOVE_LABELS.json").write_text(json.dumps(
        {"0001.jpg1234": {"filename": "0001.jpg", "size": 1234, "regions": [region], "file_attributes": {}}}))
    (tmp_path / "BELOW_LABELS.json").write_text(json.dumps(
        {"0001.jpg99": {"filename": "0001.jpg", "size": 99, "regions": {"0": region}, "file_attributes": {}}}))
    src = create_source("ndd20", root=str(tmp_path))
    assert [src[i].image_id for i in range(2)] == ["above_0001", "below_0001"]
    want = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([[2, 2, 20, 2, 20, 12, 2, 12]], H, W))).astype(bool)
    for i in range(2):
        o = src[i].objects[0]
        assert o.category == "white beaked" and np.array_equal(o.mask, want)


# --- BDD100K with images and attributes --------------------------------------------------------------

def test_bdd_condition_mapping():
    assert bdd_condition({"weather": "rainy", "timeofday": "night", "scene": "highway"}) == "rainy_night"
    assert bdd_condition({"weather": "overcast", "timeofday": "daytime"}) == "clear"
    assert bdd_condition({"weather": "partly cloudy", "timeofday": "dawn/dusk"}) == "dawn_dusk"
    assert bdd_condition({"weather": "foggy", "timeofday": "daytime"}) == "foggy"
    assert bdd_condition({"weather": "undefined", "timeofday": "night"}) == "undefined"
    assert bdd_condition(None) == "undefined"


def _bdd_tree(root: Path):
    names = ["b1c66a42-6f7d68ca", "b2bee3e1-80c787bd"]
    attrs = [{"weather": "snowy", "timeofday": "night", "scene": "city street"},
             {"weather": "clear", "timeofday": "daytime", "scene": "highway"}]
    for k, n in enumerate(names):
        img(root / "images/10k/val" / f"{n}.jpg", k)
        rgba = np.zeros((H, W, 4), np.uint8)
        rgba[2:8, 2:10] = (3, 0b0100, 0, 1)  # car, occluded, ann 1
        rgba[10:20, 12:30] = (1, 0b0010, 1, 2)  # pedestrian crowd, ann 258
        png(root / "labels/ins_seg/bitmasks/val" / f"{n}.png", rgba)
    (root / "labels/det_20").mkdir(parents=True)
    (root / "labels/det_20/det_val.json").write_text(json.dumps(
        [{"name": f"{n}.jpg", "attributes": a, "labels": []} for n, a in zip(names, attrs)]))
    poly = {"vertices": [[2, 2], [10, 2], [10, 8], [2, 8]], "types": "LLLL", "closed": True}
    rle = mask_utils.encode(np.asfortranarray(rect(2, 8, 2, 10).astype(np.uint8)))
    frames = [{"name": f"{n}.jpg", "labels": [{"id": "1", "category": "car", "attributes": {"crowd": False},
                                               "poly2d": [poly]}]} for n in names]
    (root / "labels/ins_seg/polygons").mkdir(parents=True)
    (root / "labels/ins_seg/polygons/ins_seg_val.json").write_text(json.dumps(frames))
    for f in frames:
        f["labels"][0].pop("poly2d")
        f["labels"][0]["rle"] = {"counts": rle["counts"].decode(), "size": [H, W]}
    (root / "labels/ins_seg/rles").mkdir(parents=True)
    (root / "labels/ins_seg/rles/ins_seg_val.json").write_text(json.dumps(frames))
    return names


def test_bdd100k_bitmasks_with_attributes(tmp_path):
    names = _bdd_tree(tmp_path)
    src = create_source("bdd100k", root=str(tmp_path))
    assert [(src[i].image_id, src[i].condition) for i in range(2)] == [(names[0], "snowy_night"), (names[1], "clear")]
    objs = src[0].objects
    assert [(o.id, o.category, o.iscrowd) for o in objs] == [(1, "car", False), (258, "pedestrian", True)]
    assert np.array_equal(objs[0].mask, rect(2, 8, 2, 10)) and np.array_equal(objs[1].mask, rect(10, 20, 12, 30))


@pytest.mark.parametrize("labels", ["polygons", "rles"])
def test_bdd100k_json_labels(tmp_path, labels):
    _bdd_tree(tmp_path)
    s = create_source("bdd100k", root=str(tmp_path), labels=labels)[0]
    assert s.condition == "snowy_night" and s.objects[0].category == "car"
    assert np.array_equal(s.objects[0].mask, rect(2, 8, 2, 10))


# --- ACDC with ground truth ---------------------------------------------------------------------------

def test_acdc_instance_and_panoptic_gt_and_references(tmp_path):
    seq = "GOPR0475"
    img(tmp_path / f"rgb_anon/fog/val/{seq}/{seq}_frame_000041_rgb_anon.png")
    img(tmp_path / f"rgb_anon/fog/val_ref/{seq}/{seq}_frame_000041_rgb_ref_anon.png", 1)
    img(tmp_path / f"rgb_anon/night/train/{seq}/{seq}_frame_000100_rgb_anon.png", 2)
    ids = np.full((H, W), 7, np.uint16)  # road (stuff)
    ids[2:8, 2:10] = 26001
    ids[10:14, 2:10] = 26  # a car group without instance number
    png(tmp_path / f"gt/fog/val/{seq}/{seq}_frame_000041_gt_instanceIds.png", ids)
    pan = np.zeros((H, W, 3), np.uint8)
    pan[:, :] = (1, 0, 0)  # segment 1: road
    pan[5:15, 5:25] = (44, 1, 0)  # segment 300: person
    png(tmp_path / f"gt_panoptic/night/train/{seq}/{seq}_frame_000100_gt_panoptic.png", pan)
    (tmp_path / "gt_panoptic/train_panoptic.json").write_text(json.dumps({
        "categories": [{"id": 7, "name": "road", "isthing": 0}, {"id": 24, "name": "person", "isthing": 1}],
        "annotations": [{"file_name": f"{seq}_frame_000100_gt_panoptic.png", "segments_info": [
            {"id": 1, "category_id": 7, "iscrowd": 0}, {"id": 300, "category_id": 24, "iscrowd": 0}]}]}))
    src = create_source("acdc", root=str(tmp_path), references=True, panoptic_json="gt_panoptic/train_panoptic.json")
    by_id = {src[i].image_id: src[i] for i in range(len(src))}
    fog = by_id[f"{seq}_frame_000041"]
    assert fog.condition == "fog"
    assert [(o.id, o.category, o.iscrowd) for o in fog.objects] == [(26, "car", True), (26001, "car", False)]
    night = by_id[f"{seq}_frame_000100"]
    assert night.condition == "night" and [(o.id, o.category) for o in night.objects] == [(300, "person")]
    assert np.array_equal(night.objects[0].mask, rect(5, 15, 5, 25))
    ref = by_id[f"{seq}_frame_000041_ref"]
    assert ref.condition == "reference" and ref.objects == []
    assert src.params()["images_with_gt"] == 2


# --- RobustSAM release ---------------------------------------------------------------------------------

def test_robustsam_release_layout(tmp_path):
    base = tmp_path / "test"
    masks = [np.stack([rect(1, 5, 1, 5), rect(6, 20, 6, 30), np.zeros((H, W), bool)]), rect(2, 4, 2, 4)]
    (base / "masks").mkdir(parents=True)
    for k, name in enumerate(["sa_1", "sa_2"]):
        img(base / "clear" / f"{name}.jpg", k)
        img(base / "snow" / f"{name}.jpg", 10 + k)
        img(base / "ISO_noise" / f"{name}.jpg", 20 + k)
        np.save(base / "masks" / f"m{k}.npy", masks[k])
    src = create_source("robustsam_release", root=str(tmp_path), degradations="all")
    assert len(src) == 6
    rows = [(src[i].image_id, src[i].condition, len(src[i].objects)) for i in range(6)]
    assert rows == [("sa_1", "clear", 2), ("sa_2", "clear", 1), ("sa_1", "ISO_noise", 2), ("sa_2", "ISO_noise", 1),
                    ("sa_1", "snow", 2), ("sa_2", "snow", 1)]  # the empty third mask of sa_1 is dropped
    assert np.array_equal(src[4].objects[1].mask, masks[0][1])
    assert np.array_equal(src[4].image, np.asarray(Image.open(base / "snow/sa_1.jpg")))
    (base / "masks/m1.npy").unlink()
    with pytest.raises(ValueError, match="pairing is by sorted position"):
        create_source("robustsam_release", root=str(tmp_path))


# --- bad input -----------------------------------------------------------------------------------------

def test_bad_input_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="annotation file .*instances_val2017.json not found"):
        create_source("coco", root=str(tmp_path))
    (tmp_path / "images").mkdir()
    coco_json(tmp_path / "ann.json", [{"id": 1, "file_name": "gone.jpg", "width": W, "height": H},
                                      {"id": 2, "file_name": "small.jpg", "width": W, "height": H},
                                      {"id": 3, "file_name": "corrupt.jpg", "width": W, "height": H}], [], [])
    img(tmp_path / "images/small.jpg", size=(H - 1, W))
    img(tmp_path / "images/corrupt.jpg")
    raw = (tmp_path / "images/corrupt.jpg").read_bytes()
    (tmp_path / "images/corrupt.jpg").write_bytes(raw[: len(raw) // 2])
    src = create_source("coco", root=str(tmp_path), annotations="ann.json", images="images")
    with pytest.raises(BadSampleError, match=r"gone.jpg: file not found"):
        src[0]
    with pytest.raises(BadSampleError, match=r"small.jpg: image is 32x23 but the json says 32x24"):
        src[1]
    with pytest.raises(BadSampleError, match=r"corrupt.jpg: truncated JPEG"):
        src[2]
    img(tmp_path / "f/images/a.jpg")
    png(tmp_path / "f/masks/a.png", np.zeros((H, W + 1), np.uint8))
    with pytest.raises(BadSampleError, match=r"a.png: mask is 33x24 \(WxH\) but its image a.jpg is 32x24"):
        create_source("image_mask_folders", root=str(tmp_path / "f"))[0]
