"""Readers for the Segment Anything zero-shot sets (RUAC's domains) and SUM Table 19's additional sets, each
read from a fixture whose file paths are written out here literally, in the layout the dataset publishes."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmark.data.sources import create_source, describe_sources
from benchmark.data.sources.errors import BadSampleError
from benchmark.errors import BadInputError

H, W = 24, 32
SAM23_FOLDERS = {"egohos", "ppdls", "gta5_part1"}
SAM23_COCO = {"zerowaste_f", "timberseg", "pidray"}
SAM23_READERS = {"bbbc038", "dram", "ade20k", "ovis", "woodscape", "visor", "ishape"}


def _image(path: Path, k: int = 1, mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((H, W, len(mode)), 40 * k, np.uint8), mode).save(path)


def _labels(path: Path, values: dict, palette: bool = False) -> np.ndarray:
    """A label map with value v on rows 3v-1 .. 3v+1 for each v (keys: label values)."""
    m = np.zeros((H, W), np.uint8)
    for v, (r0, r1) in values.items():
        m[r0:r1, 2:20] = v
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(m)
    if palette:
        im = im.convert("P")
        im.putpalette([c for i in range(256) for c in (i * 7 % 256, i * 13 % 256, i * 29 % 256)])
        im.putdata(m.ravel().tolist())
    im.save(path)
    return m


def test_sources_text_gives_layout_licence_and_where_to_get_each_new_set():
    text = {entry.split()[0]: entry for entry in describe_sources()}
    for name in SAM23_FOLDERS | SAM23_COCO | SAM23_READERS:
        lines = text[name].splitlines()
        assert lines[1].strip().startswith("layout: <root>/"), name
        assert lines[2].strip().startswith("licence: ") and "unknown" not in lines[2], name
        assert lines[3].strip().startswith("get it: https://"), name


def test_egohos_reads_test_indomain_label_maps_one_object_per_label(tmp_path):
    _image(tmp_path / "test_indomain" / "image" / "ego4d_0001.jpg")
    m = _labels(tmp_path / "test_indomain" / "label" / "ego4d_0001.png", {1: (2, 5), 2: (6, 9), 4: (10, 14)})
    _image(tmp_path / "train" / "image" / "other.jpg")  # another split: not read by default
    src = create_source("egohos", root=str(tmp_path))
    assert len(src) == 1
    s = src[0]
    assert s.image_id == "ego4d_0001"
    assert [(o.id, int(o.mask.sum())) for o in s.objects] == [(v, int((m == v).sum())) for v in (1, 2, 4)]


def test_ppdls_reads_rgb_and_label_pngs_and_ignores_the_other_published_files(tmp_path):
    root = tmp_path / "Plant_Phenotyping_Datasets" / "Plant" / "Ara2012"
    for k, plant in enumerate(("ara2012_plant001", "ara2012_plant002")):
        _image(root / f"{plant}_rgb.png", k)
        _labels(root / f"{plant}_label.png", {1: (2, 6), 2: (8, 12), 3: (14, 16)}, palette=True)
        _labels(root / f"{plant}_fg.png", {1: (2, 16)})  # foreground and centre maps sit beside them
        _labels(root / f"{plant}_centers.png", {1: (4, 5)})
    src = create_source("ppdls", root=str(root))
    assert len(src) == 2
    s = src[0]
    assert s.image_id == "ara2012_plant001" and s.image.shape == (H, W, 3)
    assert [o.id for o in s.objects] == [1, 2, 3]  # palette indices, not the palette's colours
    assert [int(o.mask.sum()) for o in s.objects] == [4 * 18, 4 * 18, 2 * 18]


def test_gta5_part1_takes_the_first_frames_one_object_per_label_id(tmp_path):
    for n in range(1, 4):
        _image(tmp_path / "images" / f"{n:05d}.png", n)
        _labels(tmp_path / "labels" / f"{n:05d}.png", {7: (0, 10), 26: (12, 20)}, palette=True)
    assert len(create_source("gta5_part1", root=str(tmp_path))) == 3  # fewer than 2,500 frames: all of them
    src = create_source("gta5_part1", root=str(tmp_path), first=2)
    assert [src[i].image_id for i in range(len(src))] == ["00001", "00002"]
    assert [o.id for o in src[0].objects] == [7, 26]  # Cityscapes road, car


# COCO-json preset -> (annotation file, image path as published, category) of a one-image fixture
COCO_FIXTURES = {
    "zerowaste_f": ("test/labels.json", "test/data/01_frame_000010.PNG", "rigid_plastic"),
    "timberseg": ("prescaled/coco_annotation.json", "prescaled/IMG_0001.jpg", "log"),
    "pidray": ("annotations/xray_test_hidden.json", "hidden/xray_hidden00001.png", "Baton"),
}


@pytest.mark.parametrize("name", sorted(COCO_FIXTURES))
def test_coco_preset_reads_its_published_layout_and_refuses_duplicate_ids(tmp_path, name):
    ann, image, category = COCO_FIXTURES[name]
    _image(tmp_path / image)
    js = {"images": [{"id": 3, "file_name": Path(image).name, "height": H, "width": W}],
          "annotations": [{"id": 5, "image_id": 3, "category_id": 2, "iscrowd": 0,
                           "segmentation": [[2, 2, 12, 2, 12, 12, 2, 12]]}],
          "categories": [{"id": 2, "name": category}]}
    (tmp_path / ann).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / ann).write_text(json.dumps(js))
    s = create_source(name, root=str(tmp_path))[0]
    assert (s.image_id, s.objects[0].id, s.objects[0].category) == ("3", 5, category)
    assert s.objects[0].mask.sum() > 50
    js["images"].append(dict(js["images"][0]))  # duplicate image id: the file is refused when opened
    (tmp_path / ann).write_text(json.dumps(js))
    with pytest.raises(ValueError, match="duplicate"):
        create_source(name, root=str(tmp_path))


def _nucleus(path: Path, rows: tuple) -> None:
    m = np.zeros((H, W), np.uint8)
    m[rows[0]:rows[1], 4:10] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(m).save(path)


def test_bbbc038_reads_one_folder_per_image_one_mask_per_nucleus(tmp_path):
    root = tmp_path / "stage1_train"
    ids = ("0a7d30b252359a10fd298b638b90cb9ada3acced4e0c0e5a3692013f432ee4e9", "f4b7c2")
    for k, iid in enumerate(ids):
        _image(root / iid / "images" / f"{iid}.png", k, mode="RGBA")  # the published PNGs carry alpha
        _nucleus(root / iid / "masks" / "07a9bf1d7594af2763c86e93f05d22c4d5181353c6d3ab30a345b908ffe5aadc.png", (2, 6))
        _nucleus(root / iid / "masks" / "1b3c.png", (10, 13))
    (tmp_path / "stage1_train_labels.csv").write_text("ImageId,EncodedPixels\n")  # beside the folder, not in it
    src = create_source("bbbc038", root=str(root))
    assert len(src) == 2
    s = src[0]
    assert s.image_id == ids[0] and s.image.shape == (H, W, 3)
    assert [(o.category, int(o.mask.sum())) for o in s.objects] == [("nucleus", 24), ("nucleus", 18)]
    (root / "ff" / "images").mkdir(parents=True)  # sorts last
    with pytest.raises(BadSampleError, match="has no masks/ folder"):
        create_source("bbbc038", root=str(root))[2]


def test_bbbc038_refuses_a_mask_that_leaves_the_dataset_folder(tmp_path):
    root = tmp_path / "stage1_train"
    _image(root / "a" / "images" / "a.png")
    _nucleus(tmp_path / "outside.png", (2, 6))
    (root / "a" / "masks").mkdir()
    (root / "a" / "masks" / "m.png").symlink_to(tmp_path / "outside.png")
    with pytest.raises(BadSampleError, match="outside"):
        create_source("bbbc038", root=str(root))[0]


def test_dram_reads_artist_folders_voc_labels_one_object_per_class(tmp_path):
    root = tmp_path / "DRAM_processed"
    _image(root / "test" / "Vincent_van_Gogh" / "1889_starry.jpg")
    _labels(root / "labels" / "Vincent_van_Gogh" / "1889_starry.png", {15: (2, 8), 3: (10, 12), 255: (20, 22)},
            palette=True)
    _image(root / "train" / "Monet" / "x.jpg")  # unlabelled training paintings are not read
    src = create_source("dram", root=str(root))
    assert len(src) == 1
    s = src[0]
    assert s.image_id == "Vincent_van_Gogh_1889_starry"
    assert [(o.category, int(o.mask.sum())) for o in s.objects] == [("bird", 36), ("person", 108)]  # 255: void
    _labels(root / "labels" / "Vincent_van_Gogh" / "1889_starry.png", {40: (2, 8)})
    with pytest.raises(BadSampleError, match=r"label values \[40\] are not VOC class ids"):
        src[0]
    with pytest.raises(ValueError, match="split must be test"):
        create_source("dram", root=str(root), split="../x")


def test_ade20k_reads_instance_maps_red_category_green_instance(tmp_path):
    _image(tmp_path / "images" / "validation" / "ADE_val_00000001.jpg")
    ann = np.zeros((H, W, 3), np.uint8)
    ann[2:6, 2:10] = (12, 1, 0)
    ann[8:12, 2:10] = (12, 2, 0)  # a second instance of the same category
    ann[14:16, 2:4] = (40, 3, 0)
    (tmp_path / "annotations_instance" / "validation").mkdir(parents=True)
    Image.fromarray(ann).save(tmp_path / "annotations_instance" / "validation" / "ADE_val_00000001.png")
    s = create_source("ade20k", root=str(tmp_path))[0]
    assert s.image_id == "ADE_val_00000001"
    assert [(o.id, o.category, int(o.mask.sum())) for o in s.objects] == [(1, "12", 32), (2, "12", 32), (3, "40", 4)]
    ann[3, 3] = (13, 1, 0)
    Image.fromarray(ann).save(tmp_path / "annotations_instance" / "validation" / "ADE_val_00000001.png")
    with pytest.raises(BadSampleError, match=r"instance 1 has pixels of categories \[12, 13\]"):
        create_source("ade20k", root=str(tmp_path))[0]
    with pytest.raises(ValueError, match="split must be one of validation, training"):
        create_source("ade20k", root=str(tmp_path), split="val")


def _ovis(tmp_path: Path, **changes) -> dict:
    for k in range(3):
        _image(tmp_path / "train" / "2592056" / f"img_{k:07d}.jpg", k)
    rle = {"size": [H, W], "counts": [4 * H + 2, 6, H * W - 4 * H - 8]}
    js = {"videos": [{"id": 1, "width": W, "height": H, "length": 3,
                      "file_names": [f"2592056/img_{k:07d}.jpg" for k in range(3)]}],
          "annotations": [{"id": 1, "video_id": 1, "category_id": 2, "iscrowd": 0,
                           "segmentations": [rle, None, [[2, 2, 10, 2, 10, 10, 2, 10]]]},
                          {"id": 2, "video_id": 1, "category_id": 2, "iscrowd": 0,
                           "segmentations": [None, None, [[12, 12, 20, 12, 20, 20, 12, 20]]]}],
          "categories": [{"id": 2, "name": "Fish"}]}
    for key, value in changes.items():
        js[key] = value
    (tmp_path / "annotations_train.json").write_text(json.dumps(js))
    return js


def test_ovis_reads_each_annotated_frame_of_a_youtube_vis_json(tmp_path):
    _ovis(tmp_path)
    src = create_source("ovis", root=str(tmp_path))
    assert [src[i].image_id for i in range(len(src))] == ["1_img_0000000", "1_img_0000002"]  # frame 1: no mask
    assert [(o.id, o.category, int(o.mask.sum())) for o in src[0].objects] == [(1, "Fish", 6)]
    assert [o.id for o in src[1].objects] == [1, 2]
    assert len(create_source("ovis", root=str(tmp_path), stride=2)) == 2
    assert len(create_source("ovis", root=str(tmp_path), stride=3)) == 1


@pytest.mark.parametrize("change, message", [
    ({"videos": [{"id": 1, "width": W, "height": H, "file_names": ["../../etc/x.jpg"] * 3}]}, "outside"),
    ({"videos": [{"id": 1, "width": W, "height": H, "file_names": ["a.jpg"] * 2}]}, "one entry per frame"),
    ({"categories": [{"id": 2, "name": "Fish"}, {"id": 2, "name": "Fish"}]}, "duplicate id 2 in 'categories'"),
    ({"categories": [{"id": 2.0, "name": "Fish"}]}, "integer 'id'"),
])
def test_ovis_refuses_a_json_that_breaks_the_format(tmp_path, change, message):
    _ovis(tmp_path, **change)
    with pytest.raises(BadInputError, match=message):
        create_source("ovis", root=str(tmp_path))


def test_ovis_refuses_float_iscrowd_and_unknown_video(tmp_path):
    js = _ovis(tmp_path)
    js["annotations"][0]["iscrowd"] = 1.0
    (tmp_path / "annotations_train.json").write_text(json.dumps(js))
    with pytest.raises(BadInputError, match="iscrowd must be 0 or 1"):
        create_source("ovis", root=str(tmp_path))
    js["annotations"][0]["iscrowd"], js["annotations"][0]["video_id"] = 0, 9
    (tmp_path / "annotations_train.json").write_text(json.dumps(js))
    with pytest.raises(BadInputError, match="video_id 9 names no video"):
        create_source("ovis", root=str(tmp_path))


def _woodscape(root: Path, regions: list, size=(W, H)) -> None:
    _image(root / "rgb_images" / "00001_FV.png")
    (root / "instance_annotations").mkdir(parents=True, exist_ok=True)
    js = {"00001_FV.json": {"annotation": regions, "image_width": size[0], "image_height": size[1]}}
    (root / "instance_annotations" / "00001_FV.json").write_text(json.dumps(js))


def _region(tag, box, z, rid):
    x0, y0, x1, y1 = box
    return {"tags": tag, "segmentation": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]], "z_order": z, "id": rid}


def test_woodscape_objects_are_the_visible_parts_of_their_polygons_in_z_order(tmp_path):
    _woodscape(tmp_path, [_region(["car"], (2, 2, 12, 12), 2, 7), _region(["road"], (0, 0, 20, 20), 1, 8),
                          _region(["car", "truck"], (14, 14, 18, 18), 3, 9)])  # two tags: unused, as upstream
    s = create_source("woodscape", root=str(tmp_path))[0]
    assert s.image_id == "00001_FV"
    car, road = s.objects
    assert (car.id, car.category, road.id, road.category) == (1, "car", 2, "road")
    assert not (car.mask & road.mask).any() and (car.mask | road.mask).sum() == road.mask.sum() + car.mask.sum()
    assert car.mask[5, 5] and not road.mask[5, 5] and road.mask[15, 15]


@pytest.mark.parametrize("regions, size, message", [
    ([_region(["car"], (2, 2, 12, 12), 1, 1)], (W + 1, H), "says 33x24 but the image is 32x24"),
    ([{"tags": ["car"], "segmentation": [1, 2, 3], "z_order": 1}], (W, H), r"list of \[x, y\] points"),
    ([_region(["car"], (2, 2, 10 ** 9, 12), 1, 1)], (W, H), "outside"),
    ([_region(["car"], (2, 2, 12, 12), "top", 1)], (W, H), "numeric 'z_order'"),
])
def test_woodscape_refuses_a_bad_annotation_naming_it(tmp_path, regions, size, message):
    _woodscape(tmp_path, regions, size)
    with pytest.raises(BadSampleError, match=message):
        create_source("woodscape", root=str(tmp_path))[0]


def _visor(root: Path, masks: list, size=(1920, 1080)) -> None:
    frame = root / "rgb_frames" / "val" / "P01_107" / "P01_107_frame_0000000140.jpg"
    frame.parent.mkdir(parents=True)
    Image.new("RGB", size, (90, 60, 30)).save(frame)
    (root / "annotations" / "val").mkdir(parents=True)
    js = {"video_annotations": [{"image": {"name": "P01_107_frame_0000000140.jpg", "video": "P01_107",
                                           "image_path": "P01_107/Part_001/x.jpg", "subsequence": "P01_107_seq_00001"},
                                 "annotations": masks}]}
    (root / "annotations" / "val" / "P01_107.json").write_text(json.dumps(js))


def _square(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def test_visor_reads_sparse_masks_painted_in_list_order(tmp_path):
    _visor(tmp_path, [{"id": 11, "name": "chopping board", "class_id": 8, "segments": [_square(100, 100, 400, 300)]},
                      {"id": 12, "name": "left hand", "class_id": 300,
                       "segments": [_square(200, 150, 260, 220), [], _square(600, 600, 620, 640)]}])
    s = create_source("visor", root=str(tmp_path))[0]
    assert s.image_id == "P01_107_frame_0000000140" and s.image.shape == (1080, 1920, 3)
    board, hand = s.objects
    assert (board.category, hand.category) == ("chopping board", "left hand")
    assert hand.mask[180, 230] and not board.mask[180, 230] and board.mask[120, 120] and hand.mask[620, 610]


def test_visor_refuses_a_frame_of_another_size_and_a_name_leaving_the_folder(tmp_path):
    _visor(tmp_path / "a", [{"id": 1, "name": "pan", "segments": [_square(1, 1, 9, 9)]}], size=(854, 480))
    with pytest.raises(BadSampleError, match="VISOR's sparse polygons are in 1920x1080 pixels"):
        create_source("visor", root=str(tmp_path / "a"))[0]
    _visor(tmp_path / "b", [])
    js = json.loads((tmp_path / "b" / "annotations" / "val" / "P01_107.json").read_text())
    js["video_annotations"][0]["image"]["video"] = "../../.."
    (tmp_path / "b" / "annotations" / "val" / "P01_107.json").write_text(json.dumps(js))
    with pytest.raises(BadInputError, match="outside"):
        create_source("visor", root=str(tmp_path / "b"))


def _ishape(root: Path, subset: str, image_ids=(1, 2)) -> None:
    folder = root / subset / "val"
    images = []
    for k in image_ids:
        _image(folder / "image" / f"{k}.jpg", k)
        images.append({"id": k, "file_name": f"{k}.jpg", "height": H, "width": W})
    rle = {"size": [H, W], "counts": [4 * H + 2, 6, H * W - 4 * H - 8]}  # compressed or not, as COCO allows
    anns = [{"id": 10 + k, "image_id": k, "category_id": 1, "iscrowd": 0, "segmentation": rle} for k in image_ids]
    (folder / "coco_format-mask_encoding=rle-instances_2017.json").write_text(json.dumps(
        {"images": images, "annotations": anns, "categories": [{"id": 1, "name": subset}]}))


def test_ishape_pools_the_chosen_sub_datasets_with_prefixed_ids(tmp_path):
    _ishape(tmp_path, "wire")
    _ishape(tmp_path, "log", (1,))
    src = create_source("ishape", root=str(tmp_path), subsets="wire,log")
    assert [src[i].image_id for i in range(len(src))] == ["wire_1", "wire_2", "log_1"]
    assert src[2].objects[0].category == "log" and int(src[2].objects[0].mask.sum()) == 6
    with pytest.raises(FileNotFoundError, match="antenna"):
        create_source("ishape", root=str(tmp_path))  # all six by default
    with pytest.raises(ValueError, match="subsets must be a comma list of antenna"):
        create_source("ishape", root=str(tmp_path), subsets="wire,../x")


def test_per_image_and_per_video_json_must_be_regular_files_inside_the_root(tmp_path):
    import os

    _woodscape(tmp_path / "w", [])
    js = tmp_path / "w" / "instance_annotations" / "00001_FV.json"
    js.unlink()
    os.mkfifo(js)  # would hang a reader that opened it
    with pytest.raises(BadSampleError, match="FIFO"):
        create_source("woodscape", root=str(tmp_path / "w"))[0]
    _visor(tmp_path / "v", [])
    outside = tmp_path / "elsewhere.json"
    (tmp_path / "v" / "annotations" / "val" / "P01_107.json").rename(outside)
    (tmp_path / "v" / "annotations" / "val" / "P01_107.json").symlink_to(outside)
    with pytest.raises(BadInputError, match="outside the dataset folder"):
        create_source("visor", root=str(tmp_path / "v"))
