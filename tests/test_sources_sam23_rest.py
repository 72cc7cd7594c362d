"""The rest of SAM's zero-shot sets (GTEA, DOORS, IBD, NDISPark, Plittersdorf) and SUM's Fashionpedia sub-part
subset, each read from a fixture whose file paths are written out literally in the layout its loaders read."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmark.data.sources import create_source, describe_sources
from benchmark.data.sources.errors import BadSampleError
from benchmark.errors import BadInputError
from tests.test_sources_sam23 import H, W, _image, _labels, _nucleus

DOORS_TE1 = Path("DOORS") / "Regression" / "Te1_5000_b_2022-08-02 11.16.00"
REST_FOLDERS = {"gtea", "doors", "ibd"}  # presets of the folder reader tested here


def test_sources_text_gives_layout_licence_and_download_page():
    text = {entry.split()[0]: entry for entry in describe_sources()}
    for name in REST_FOLDERS | set(COCO_FIXTURES) | {"fashionpedia_subpart", "hypersim"}:
        lines = text[name].splitlines()
        assert lines[1].strip().startswith("layout: <root>/"), name
        assert lines[2].strip().startswith("licence: ") and "unknown" not in lines[2], name
        if name != "ibd":  # no download page of IBD was found: none is printed rather than a guess
            assert lines[3].strip().startswith("get it: https://"), name
    assert len(text["ibd"].splitlines()) == 3
    assert "[layout from luckybird1994/ASAM" in text["doors"]


def test_gtea_reads_images_and_masks_one_object_per_mask_value(tmp_path):
    root = tmp_path / "hand2K_dataset" / "GTEA"
    _image(root / "Images" / "S1_Cheese_C1_00052.jpg")
    m = _labels(root / "Masks" / "S1_Cheese_C1_00052.png", {1: (2, 6), 2: (8, 12)})
    _image(root / "Images" / "no_mask.png")  # not a .jpg: not an image of the set
    src = create_source("gtea", root=str(root))
    assert len(src) == 1
    s = src[0]
    assert s.image_id == "S1_Cheese_C1_00052"
    assert [(o.id, int(o.mask.sum())) for o in s.objects] == [(1, int((m == 1).sum())), (2, int((m == 2).sum()))]


def test_doors_reads_one_boulder_mask_per_image_from_its_set_folder(tmp_path):
    root = tmp_path / DOORS_TE1
    _image(root / "img" / "0001.png")
    _nucleus(root / "Rock_all" / "0001.png", (4, 10))  # a 0/255 mask
    _image(tmp_path / "DOORS" / "Regression" / "Te2_5000_ub_2022-08-02 11.16.11" / "img" / "0001.png")
    src = create_source("doors", root=str(root))
    assert len(src) == 1
    (rock,) = src[0].objects
    assert int(rock.mask.sum()) == 6 * 6 and rock.mask[5, 5] and not rock.mask[12, 5]
    (root / "Rock_all" / "0001.png").unlink()
    with pytest.raises(BadSampleError, match="Rock_all/0001.png: file not found"):
        src[0]


def test_ibd_reads_val_and_val_labels_one_object_per_label(tmp_path):
    root = tmp_path / "IBD"
    _image(root / "val" / "b_0001.png")
    _labels(root / "val_labels" / "b_0001.png", {3: (2, 6), 7: (10, 14)})
    s = create_source("ibd", root=str(root))[0]
    assert [(o.id, int(o.mask.sum())) for o in s.objects] == [(3, 4 * 18), (7, 4 * 18)]
    outside = tmp_path / "elsewhere.png"
    Image.fromarray(np.zeros((H, W), np.uint8)).save(outside)
    (root / "val_labels" / "b_0001.png").unlink()
    (root / "val_labels" / "b_0001.png").symlink_to(outside)
    with pytest.raises(BadSampleError, match="outside"):
        create_source("ibd", root=str(root))[0]


# COCO-json preset -> (annotation file, image path as published, category) of a one-image fixture
COCO_FIXTURES = {
    "ndispark": ("train/train_coco_annotations.json", "train/imgs/60_1531573328.jpg", "car"),
    "plittersdorf": ("test.json", "images/plittersdorf_000123.jpg", "deer"),
}


def _coco(root: Path, ann: str, image: str, category: str, **extra) -> dict:
    _image(root / image)
    js = {"images": [{"id": 3, "file_name": Path(image).name, "height": H, "width": W}],
          "annotations": [{"id": 5, "image_id": 3, "category_id": 2, "iscrowd": 0,
                           "segmentation": [[2, 2, 12, 2, 12, 12, 2, 12]]}],
          "categories": [{"id": 2, "name": category}], **extra}
    (root / ann).parent.mkdir(parents=True, exist_ok=True)
    (root / ann).write_text(json.dumps(js))
    return js


@pytest.mark.parametrize("name", sorted(COCO_FIXTURES))
def test_coco_preset_reads_its_published_layout_and_refuses_a_bad_json(tmp_path, name):
    ann, image, category = COCO_FIXTURES[name]
    js = _coco(tmp_path, ann, image, category)
    s = create_source(name, root=str(tmp_path))[0]
    assert (s.image_id, s.objects[0].id, s.objects[0].category) == ("3", 5, category)
    assert s.objects[0].mask.sum() > 50
    js["annotations"][0]["iscrowd"] = 1.0
    (tmp_path / ann).write_text(json.dumps(js))
    with pytest.raises(ValueError, match="'iscrowd' must be the integer 0 or 1"):
        create_source(name, root=str(tmp_path))


def test_ndispark_validation_split_by_option(tmp_path):
    _coco(tmp_path, "validation/val_coco_annotations.json", "validation/imgs/64_1531681468.jpg", "car")
    with pytest.raises(FileNotFoundError, match="train_coco_annotations.json"):
        create_source("ndispark", root=str(tmp_path))  # train by default, and only validation is here
    src = create_source("ndispark", root=str(tmp_path), annotations="validation/val_coco_annotations.json",
                        images="validation/imgs")
    assert len(src) == 1 and src.params()["images"] == "validation/imgs"


def _fashionpedia(root: Path, file_name: str = "b.jpg") -> None:
    """Three val images: a jacket with a sleeve, a jacket alone, a zipper alone."""
    cats = [{"id": 4, "name": "jacket", "supercategory": "upperbody"}]
    cats += [{"id": 27 + k, "name": n, "supercategory": "garment parts" if k < 7 else "closures" if k < 9 else
              "decorations"} for k, n in enumerate(("hood", "collar", "lapel", "epaulette", "sleeve", "pocket",
                                                    "neckline", "buckle", "zipper", "applique", "bead", "bow",
                                                    "flower", "fringe", "ribbon", "rivet", "ruffle", "sequin",
                                                    "tassel"))]
    images, anns = [], []
    for iid, (name, parts) in enumerate((("a.jpg", [4, 31]), (file_name, [4]), ("c.jpg", [35])), start=1):
        _image(root / "test" / Path(name).name, iid)
        images.append({"id": iid, "file_name": name, "height": H, "width": W})
        for k, cat in enumerate(parts):
            y = 2 + 8 * k
            anns.append({"id": 10 * iid + k, "image_id": iid, "category_id": cat, "iscrowd": 0,
                         "segmentation": [[2, y, 14, y, 14, y + 6, 2, y + 6]], "attribute_ids": []})
    (root / "instances_attributes_val2020.json").write_text(json.dumps(
        {"images": images, "annotations": anns, "categories": cats}))


def test_fashionpedia_subpart_keeps_images_with_parts_and_only_their_parts(tmp_path):
    _fashionpedia(tmp_path)
    src = create_source("fashionpedia_subpart", root=str(tmp_path))
    assert [src[i].image_id for i in range(len(src))] == ["1", "3"]
    assert [o.category for o in src[0].objects] == ["sleeve"]  # the jacket is not a sub-part
    assert [o.category for o in src[1].objects] == ["zipper"]
    assert {k: src.params()[k] for k in ("selected_images", "val_images")} == {"selected_images": 2, "val_images": 3}
    assert len(create_source("fashionpedia", root=str(tmp_path))) == 3  # the main set keeps every image


def test_fashionpedia_subpart_refuses_a_json_without_the_part_categories(tmp_path):
    _fashionpedia(tmp_path)
    ann = tmp_path / "instances_attributes_val2020.json"
    js = json.loads(ann.read_text())
    js["categories"] = [c for c in js["categories"] if c["name"] != "tassel"]
    ann.write_text(json.dumps(js))
    with pytest.raises(BadInputError, match=r"instances_attributes_val2020.json lacks .*\['tassel'\]"):
        create_source("fashionpedia_subpart", root=str(tmp_path))


def test_fashionpedia_subpart_image_name_may_not_leave_the_image_folder(tmp_path):
    _fashionpedia(tmp_path, file_name="../../b.jpg")
    js = json.loads((tmp_path / "instances_attributes_val2020.json").read_text())
    js["annotations"].append({"id": 99, "image_id": 2, "category_id": 31, "iscrowd": 0,
                              "segmentation": [[2, 2, 9, 2, 9, 9, 2, 9]]})
    (tmp_path / "instances_attributes_val2020.json").write_text(json.dumps(js))
    src = create_source("fashionpedia_subpart", root=str(tmp_path))
    assert len(src) == 3 and src[0].image_id == "1"
    with pytest.raises(BadSampleError, match="points outside the image folder"):
        src[1]


def test_hypersim_without_h5py_names_the_extra(tmp_path, monkeypatch):
    """Runs whether or not h5py is installed: the source is refused at construction, naming the extra."""
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py now raises ImportError
    with pytest.raises(ValueError, match=r'needs h5py: pip install -e "\.\[hypersim\]"'):
        create_source("hypersim", root=str(tmp_path))
