"""SUM's evaluation sets through the preset table: each preset read from a fixture whose file paths are
written out here literally, in the published layout (not derived from the preset's own defaults)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmark.data.sources import create_source, source_info
from benchmark.data.sources.presets import load_presets
from benchmark.errors import UsageError
from tests.test_sources_sam23 import SAM23_COCO, SAM23_FOLDERS
from tests.test_sources_sam23_rest import COCO_FIXTURES as REST_COCO, REST_FOLDERS

H, W = 24, 32
# preset -> (image path, mask path) of two samples, as each dataset publishes them
FOLDERS = {
    "coift": [("images/a.jpg", "masks/a.png"), ("images/b.jpg", "masks/b.png")],
    "hrsod": [("images/a.jpg", "masks_max255/a.png"), ("images/b.jpg", "masks_max255/b.png")],
    "dis5k": [("im/1#Accessories#1#Bag#1.jpg", "gt/1#Accessories#1#Bag#1.png"), ("im/b.jpg", "gt/b.png")],
    "big": [("a_im.jpg", "a_gt.png"), ("b_im.jpg", "b_gt.png")],
    "voceval": [("2008_000001_im.jpg", "2008_000001_gt.png"), ("b_im.jpg", "b_gt.png")],
    "easyportrait": [("images/val/a.jpg", "annotations/val/a.png"), ("images/val/b.jpg", "annotations/val/b.png")],
}
# preset -> (annotation file, image folder the json's file_name is relative to)
COCO = {"entityseg": ("entityseg_val_01.json", "images"), "fashionpedia": ("instances_attributes_val2020.json", "test"),
        "trashcan": ("instances_val_trashcan.json", "val")}


def _image(path: Path, k: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((H, W, 3), 40 * k, np.uint8)).save(path, quality=95)


def _mask(path: Path, labels: bool) -> np.ndarray:
    m = np.zeros((H, W), np.uint8)
    m[4:12, 5:20] = 1 if labels else 255
    if labels:
        m[14:20, 8:14] = 7  # lips
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(m).save(path)
    return m


def test_the_table_covers_the_tested_presets_and_says_where_each_layout_came_from():
    data = load_presets()
    assert set(data["folders"]) == set(FOLDERS) | SAM23_FOLDERS | REST_FOLDERS
    assert set(data["coco"]) == set(COCO) | {"paco"} | SAM23_COCO | set(REST_COCO)
    for kind in ("folders", "coco"):
        for name, spec in data[kind].items():
            info = source_info(name)
            assert info is not None and spec["layout"] == info.layout
            assert spec["layout_from"] or "UNCONFIRMED" in info.description
            assert spec["license"] and spec["citation"].startswith("@")


@pytest.mark.parametrize("name", sorted(FOLDERS))
def test_folder_preset_reads_its_published_layout(tmp_path, name):
    labels = name == "easyportrait"
    want = []
    for k, (img, msk) in enumerate(FOLDERS[name]):
        _image(tmp_path / img, k)
        want.append(_mask(tmp_path / msk, labels))
    src = create_source(name, root=str(tmp_path))
    assert len(src) == 2
    s = src[0]
    assert s.image.shape == (H, W, 3)
    assert s.image_id == Path(FOLDERS[name][0][0]).name.rsplit("_im.jpg", 1)[0].removesuffix(".jpg")
    if labels:  # one object per label value
        assert sorted(o.mask.sum() for o in s.objects) == sorted([(want[0] == v).sum() for v in (1, 7)])
    else:
        assert len(s.objects) == 1 and np.array_equal(s.objects[0].mask, want[0] > 0)
    assert len(create_source(name, root=str(tmp_path), first=1)) == 1


@pytest.mark.parametrize("name", sorted(COCO))
def test_coco_preset_reads_its_published_layout(tmp_path, name):
    ann, folder = COCO[name]
    _image(tmp_path / folder / "x.jpg", 1)
    _image(tmp_path / folder / "y.jpg", 2)
    rle = {"size": [H, W], "counts": [4 * H + 2, 6, H - 6, 6, W * H - (4 * H + 2) - 12 - (H - 6)]}
    js = {"images": [{"id": 2, "file_name": "y.jpg", "height": H, "width": W},
                     {"id": 1, "file_name": "x.jpg", "height": H, "width": W}],
          "annotations": [{"id": 10, "image_id": 1, "category_id": 1, "iscrowd": 0, "segmentation": rle},
                          {"id": 11, "image_id": 2, "category_id": 1, "iscrowd": 0,
                           "segmentation": [[2, 2, 10, 2, 10, 10, 2, 10]]}],
          "categories": [{"id": 1, "name": "thing"}]}
    (tmp_path / ann).write_text(json.dumps(js))
    src = create_source(name, root=str(tmp_path))
    assert [src[i].image_id for i in range(2)] == ["1", "2"]
    assert int(src[0].objects[0].mask.sum()) == 12 and src[1].objects[0].mask.any()
    assert [s.image_id for s in [create_source(name, root=str(tmp_path), first=1)[0]]] == ["1"]
    with pytest.raises(UsageError, match="unknown option bogus; valid options: "):
        create_source(name, root=str(tmp_path), bogus=1)
    with pytest.raises(ValueError, match="first must be a whole number"):
        create_source(name, root=str(tmp_path), first=-1)


def test_paco_reads_lvis_format_json_over_coco_images(tmp_path):
    _image(tmp_path / "val2017" / "000000000042.jpg", 1)
    js = {"images": [{"id": 42, "coco_url": "http://images.cocodataset.org/val2017/000000000042.jpg",
                      "height": H, "width": W}],
          "annotations": [{"id": 1, "image_id": 42, "category_id": 3, "segmentation": [[2, 2, 10, 2, 10, 10, 2, 10]]}],
          "categories": [{"id": 3, "name": "mug:handle"}]}
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "paco_lvis_v1_val.json").write_text(json.dumps(js))
    s = create_source("paco", root=str(tmp_path))[0]
    assert s.image_id == "42" and s.objects[0].category == "mug:handle"


def test_sum_suite_runs_box_then_clicks_on_preset_fixtures(tmp_path):
    """SUM Tables 14-18 on COIFT, HR-SOD and BIG fixtures placed where the suite expects them, with the
    weight-free box baseline: point, box and box@6 cells are reproduced from the right protocol rounds."""
    import csv

    from benchmark.report.reproduce import reproduce
    from benchmark.report.results import read_results

    data = tmp_path / "data"
    for name, root in (("coift", "thin_object_detection/COIFT"), ("hrsod", "thin_object_detection/HRSOD"),
                       ("big", "BIG/test")):
        for k, (img, msk) in enumerate(FOLDERS[name]):
            _image(data / root / img, k)
            _mask(data / root / msk, False)
    out = tmp_path / "out"
    path = reproduce("sum_vs_sam_budgets", data, {}, out, models={"SAM": "box"}, datasets=["coift", "hrsod", "big"])
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["reproduced"]]
    by = {(r["dataset"], r["protocol"], r["metric"]): float(r["reproduced"]) for r in rows}
    df = read_results(out / "results").to_pandas()
    for dataset in ("coift", "hrsod", "big"):
        g = df[df.dataset.str.startswith(dataset) & (df.protocol == "sum_box_oracle")]
        assert by[(dataset, "box@6", "mIoU")] == pytest.approx(100 * g[g["round"] == 6].iou.mean(), abs=0.005)
        assert by[(dataset, "box", "mIoU")] == pytest.approx(100 * g[g["round"] == 1].iou.mean(), abs=0.005)
    assert {r["match"] for r in rows if r["protocol"] == "box@6"} == {"approximate"}
    assert all("manifest_sha256=" in r["data"] for r in rows)


def test_mhp_v2_reads_its_official_layout_one_object_per_person_and_part(tmp_path):
    (tmp_path / "list").mkdir()
    (tmp_path / "list" / "val.txt").write_text("7\n3\n")
    for k, img in enumerate(("7", "3")):
        _image(tmp_path / "val" / "images" / f"{img}.jpg", k)
    ann = tmp_path / "val" / "annotations"
    ann.mkdir(parents=True)
    p1 = np.zeros((H, W, 3), np.uint8)  # 3 channels, as the annotation tool saved them
    p1[2:8, 2:8, 0], p1[10:14, 2:8, 0] = 1, 30
    p2 = np.zeros((H, W), np.uint8)
    p2[2:8, 20:28] = 1
    Image.fromarray(p1).save(ann / "7_02_01.png")
    Image.fromarray(p2).save(ann / "7_02_02.png")
    Image.fromarray(p2).save(ann / "3_01_01.png")
    Image.fromarray(p2).save(ann / "notes.png")  # not an annotation name: ignored
    src = create_source("mhp", root=str(tmp_path))
    assert len(src) == 2
    s = src[0]  # list order, as SUM's "first 1,000 images" reads it
    assert s.image_id == "7"
    assert [(o.id, o.category, int(o.mask.sum())) for o in s.objects] == [(101, "part_1", 36), (130, "part_30", 24),
                                                                           (201, "part_1", 48)]
    assert len(create_source("mhp", root=str(tmp_path), first=1)) == 1
    with pytest.raises(ValueError, match="split must be train, val or test"):
        create_source("mhp", root=str(tmp_path), split="../val")
