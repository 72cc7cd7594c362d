"""The suites that now name SAM's zero-shot sets and SUM Table 19's additional sets: with fixtures placed
where ``suites.json`` expects them, ``reproduce --list`` reports them present and a weight-free run
reads them and fills their cells."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from benchmark.report.reproduce import format_status, get_suite, reproduce, suite_status
from tests.test_sources_sam23 import _image, _labels, _nucleus


def _place(data: Path) -> None:
    """EgoHOS, DRAM and GTA V part one (SUM Table 19) and BBBC038 (SAM's suite) in their published layouts."""
    _image(data / "egohos" / "test_indomain" / "image" / "a.jpg")
    _labels(data / "egohos" / "test_indomain" / "label" / "a.png", {1: (2, 6), 4: (8, 14)})
    _image(data / "DRAM_processed" / "test" / "Monet" / "1.jpg")
    _labels(data / "DRAM_processed" / "labels" / "Monet" / "1.png", {15: (2, 8)}, palette=True)
    _image(data / "GTA5" / "images" / "00001.png")
    _labels(data / "GTA5" / "labels" / "00001.png", {7: (0, 10), 26: (12, 20)}, palette=True)
    for iid in ("a1", "b2"):
        _image(data / "BBBC038" / "stage1_train" / iid / "images" / f"{iid}.png")
        _nucleus(data / "BBBC038" / "stage1_train" / iid / "masks" / "m1.png", (2, 8))


def test_list_reports_the_placed_sets_present_and_counts_their_cells(tmp_path):
    _place(tmp_path)
    st = {(i.kind, i.name): i for i in suite_status(get_suite("sum_additional_sets"), tmp_path, {}).inputs}
    for name in ("egohos", "dram", "gta5"):
        assert st[("dataset", name)].state == "present", st[("dataset", name)]
    assert st[("dataset", "ishape")].state == "missing" and "ishape_dataset" in st[("dataset", "ishape")].detail
    assert st[("dataset", "ibd")].state == "unavailable"
    ruac = suite_status(get_suite("ruac_uncertainty"), tmp_path, {})
    assert {i.name for i in ruac.inputs if i.kind == "dataset" and i.state == "present"} == {"bbbc038", "dram",
                                                                                             "egohos"}
    text = format_status([ruac])
    assert "dataset present     bbbc038: bbbc038 at" in text
    assert "dataset unavailable doors: no robustseg reader" in text
    assert "cells   272 of 368 runnable" in text  # 23 datasets x 2 protocols x 4 metrics x 2 models; 17 readable


@pytest.mark.parametrize("suite, datasets, model", [
    ("sum_additional_sets", ["egohos", "dram", "gta5"], "SAM"),
    ("ruac_uncertainty", ["bbbc038"], "SAM 2"),
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
