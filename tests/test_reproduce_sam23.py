"""The suites that now name SAM's zero-shot sets and SUM Table 19's additional sets: with fixtures placed
where ``suites.json`` expects them, ``reproduce --list`` reports them present and a weight-free run
reads them and fills their cells."""
from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import pytest

from benchmark.report.reproduce import format_status, get_suite, reproduce, suite_status
from tests.test_sources_sam23 import _image, _labels, _nucleus
from tests.test_sources_sam23_rest import _coco


def _place(data: Path) -> None:
    """EgoHOS, DRAM, GTA V part one and IBD (SUM Table 19) and BBBC038, GTEA and NDISPark (SAM's suite) in
    their published layouts."""
    _image(data / "egohos" / "test_indomain" / "image" / "a.jpg")
    _labels(data / "egohos" / "test_indomain" / "label" / "a.png", {1: (2, 6), 4: (8, 14)})
    _image(data / "DRAM_processed" / "test" / "Monet" / "1.jpg")
    _labels(data / "DRAM_processed" / "labels" / "Monet" / "1.png", {15: (2, 8)}, palette=True)
    _image(data / "GTA5" / "images" / "00001.png")
    _labels(data / "GTA5" / "labels" / "00001.png", {7: (0, 10), 26: (12, 20)}, palette=True)
    for iid in ("a1", "b2"):
        _image(data / "BBBC038" / "stage1_train" / iid / "images" / f"{iid}.png")
        _nucleus(data / "BBBC038" / "stage1_train" / iid / "masks" / "m1.png", (2, 8))
    _image(data / "IBD" / "val" / "b1.png")
    _labels(data / "IBD" / "val_labels" / "b1.png", {1: (2, 8), 2: (10, 16)})
    _image(data / "GTEA" / "Images" / "S1_Tea_C1_00001.jpg")
    _labels(data / "GTEA" / "Masks" / "S1_Tea_C1_00001.png", {255: (4, 12)})
    _coco(data / "ndis_park", "train/train_coco_annotations.json", "train/imgs/60_1.jpg", "car")


def test_list_reports_the_placed_sets_present_and_counts_their_cells(tmp_path):
    _place(tmp_path)
    st = {(i.kind, i.name): i for i in suite_status(get_suite("sum_additional_sets"), tmp_path, {}).inputs}
    for name in ("egohos", "dram", "gta5", "ibd"):
        assert st[("dataset", name)].state == "present", st[("dataset", name)]
    assert st[("dataset", "ishape")].state == "missing" and "ishape_dataset" in st[("dataset", "ishape")].detail
    ruac = suite_status(get_suite("ruac_uncertainty"), tmp_path, {})
    assert {i.name for i in ruac.inputs if i.kind == "dataset" and i.state == "present"} == {
        "bbbc038", "dram", "egohos", "gtea", "ibd", "ndispark"}
    text = format_status([ruac])
    assert "dataset present     bbbc038: bbbc038 at" in text
    assert (f"dataset missing     doors: doors: folder {tmp_path}/DOORS/Regression/Te1_5000_b_2022-08-02 11.16.00 "
            "not found") in text
    assert f"dataset missing     hypersim: hypersim: folder {tmp_path}/Hypersim not found" in text
    assert "dataset unavailable" not in text  # every one of SAM's 23 sets has a reader
    assert "cells   368 of 368 runnable" in text  # 23 datasets x 2 protocols x 4 metrics x 2 models, all readable


@pytest.mark.parametrize("suite, datasets, model", [
    ("sum_additional_sets", ["egohos", "dram", "gta5", "ibd"], "SAM"),
    ("ruac_uncertainty", ["bbbc038", "gtea", "ndispark"], "SAM 2"),
])
def test_weight_free_rerun_reads_the_new_sources(tmp_path, suite, datasets, model):
    data = tmp_path / "data"
    _place(data)
    path = reproduce(suite, data, {}, tmp_path / "out", models={model: "box"}, datasets=datasets)
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["model"] == model and r["metric"] == "mIoU"]
    for name in datasets:
        mine = [r for r in rows if r["dataset"] == name]
        assert mine and all(r["reproduced"] and 0 < float(r["reproduced"]) <= 100 for r in mine), mine
        assert all("manifest_sha256=" in r["data"] for r in mine)


def test_a_dataset_without_a_reader_is_unavailable_and_its_cells_not_runnable(tmp_path):
    """Every named set now has a reader; a suite entry with no source still says so, and its cells do not count."""
    s = get_suite("sum_additional_sets")
    cut = replace(s, datasets=tuple(replace(d, sources=(), inputs=()) if d.dataset == "ibd" else d
                                    for d in s.datasets))
    st = suite_status(cut, tmp_path, {})
    ibd = next(i for i in st.inputs if i.kind == "dataset" and i.name == "ibd")
    assert (ibd.state, ibd.detail) == ("unavailable", "no robustseg reader for it")
    assert "cells   56 of 64 runnable" in format_status([st])
    assert "cells   64 of 64 runnable" in format_status([suite_status(s, tmp_path, {})])
