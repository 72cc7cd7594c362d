"""RobustSAM's suites on a fixture in the release's exact layout (``<split>/clear.zip`` with
``clear/<name>.jpg`` members, ``<split>/masks.zip`` with ``masks/<name>.npy`` (N, H, W) bool arrays),
and the rule that divides the pooled ``test`` split into MSRA10K, NDD20, STREETS and FSS-1000.
Models are the weight-free ``box`` baseline, so no neural model runs on random weights."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmark.data.sources import create_source
from benchmark.report.reproduce import format_status, get_suite, reproduce, suite_status

# (file name, (width, height), member by the default size rule)
TEST_SPLIT = [("a001.jpg", (224, 224), "fss1000"), ("b002.jpg", (200, 150), "msra10k"),
              ("c003.jpg", (720, 480), "streets"), ("d004.jpg", (450, 300), "ndd20"),
              ("e005.jpg", (300, 400), "msra10k")]


def _jpeg(w: int, h: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    im = np.full((h, w, 3), 90, np.uint8) + rng.integers(0, 40, (h, w, 3), dtype=np.uint8)
    im[h // 4: 3 * h // 4, w // 4: 3 * w // 4] = (220, 60, 40)
    buf = io.BytesIO()
    Image.fromarray(im).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _npy(w: int, h: int, n: int) -> bytes:
    m = np.zeros((n, h, w), bool)
    m[0, h // 4: 3 * h // 4, w // 4: 3 * w // 4] = True
    if n > 1:
        m[1, : h // 8, : w // 8] = True
    buf = io.BytesIO()
    np.save(buf, m)
    return buf.getvalue()


def make_release(root: Path, split: str = "test", files=TEST_SPLIT) -> Path:
    """``<root>/<split>/{clear,masks}.zip`` as RobustSAM's download.sh fetches them."""
    base = root / split
    base.mkdir(parents=True)
    with zipfile.ZipFile(base / "clear.zip", "w") as zc, zipfile.ZipFile(base / "masks.zip", "w") as zm:
        for k, (name, (w, h), _) in enumerate(files):
            zc.writestr(f"clear/{name}", _jpeg(w, h, k))
            zm.writestr(f"masks/{Path(name).stem}.npy", _npy(w, h, 1 + k % 2))
    return root


def test_pooled_test_split_is_divided_by_the_stated_size_rule(tmp_path):
    make_release(tmp_path)
    for member in ("msra10k", "ndd20", "streets", "fss1000"):
        src = create_source("robustsam_release", root=str(tmp_path), extract=True, member=member)
        want = [Path(n).stem for n, _, m in TEST_SPLIT if m == member]
        assert [src[i].image_id for i in range(len(src))] == want
        assert "assumed by image size" in src.params()["members_rule"]
    pooled = create_source("robustsam_release", root=str(tmp_path), member="ndd20,streets,fss1000")
    assert [pooled[i].image_id for i in range(len(pooled))] == ["a001", "c003", "d004"]
    # masks stay paired with their images after the split is divided (pairing is over the whole split)
    assert [len(pooled[i].objects) for i in range(len(pooled))] == [1, 1, 2]


def test_a_members_list_overrides_the_size_rule_and_must_name_every_image(tmp_path):
    make_release(tmp_path)
    lst = tmp_path / "members.csv"
    lst.write_text("# file name,member\n" + "".join(f"{n},ndd20\n" for n, _, _ in TEST_SPLIT))
    src = create_source("robustsam_release", root=str(tmp_path), extract=True, member="ndd20", members_file=str(lst))
    assert len(src) == len(TEST_SPLIT) and src.params()["members_rule"].startswith(f"list {lst}")
    lst.write_text("a001.jpg,fss1000\n")
    with pytest.raises(ValueError, match=r"members_file does not name 4 image\(s\) of the split, e.g. b002.jpg"):
        create_source("robustsam_release", root=str(tmp_path), member="fss1000", members_file=str(lst))
    lst.write_text("a001.jpg,coco\n")
    with pytest.raises(ValueError, match=r"members.csv:1: expected '<file name>,<member>'"):
        create_source("robustsam_release", root=str(tmp_path), member="fss1000", members_file=str(lst))
    with pytest.raises(ValueError, match="member must be a comma list of msra10k, ndd20, streets, fss1000"):
        create_source("robustsam_release", root=str(tmp_path), member="msra10")
    with pytest.raises(ValueError, match="split must be a folder name under the root"):
        create_source("robustsam_release", root=str(tmp_path), split="../test")


def test_list_names_the_release_files_and_where_they_go(tmp_path):
    st = suite_status(get_suite("robustsam_seen_msra10k_point"), tmp_path, {})
    ds = next(i for i in st.inputs if i.kind == "dataset")
    assert ds.state == "missing"
    assert (f"https://huggingface.co/robustsam/robustsam/resolve/main/dataset/test/clear.zip to "
            f"{tmp_path}/robustsam/test/clear.zip") in ds.detail
    make_release(tmp_path / "robustsam")
    st = suite_status(get_suite("robustsam_seen_msra10k_point"), tmp_path, {})
    assert next(i for i in st.inputs if i.kind == "dataset").state == "present"
    text = format_status([st])
    assert "msra10k: robustsam_release at" in text
    # 5 models x (degraded, clear, average) x (mIoU, mPA), AirNet+SAM and URIE+SAM included
    assert "cells   30 of 30 runnable given the named data and checkpoints" in text


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("suite,member_images,instances", [("robustsam_seen_msra10k_point", 2, 3),
                                                           ("robustsam_unseen_point", 3, 4)])
def test_robustsam_suite_runs_end_to_end_on_the_release_layout(tmp_path_factory, suite, member_images, instances):
    root = make_release(tmp_path_factory.mktemp("data") / "robustsam").parent
    out = tmp_path_factory.mktemp("out")
    path = reproduce(suite, root, {}, out, models={"SAM": "box"})
    rows = _rows(path)
    done = [r for r in rows if r["reproduced"]]
    assert done and {r["model"] for r in done} == {"SAM"}
    (build,) = [p for p in (out / "datasets").iterdir() if p.is_dir()]
    manifest = (build / "manifest.json").read_bytes()
    sha = hashlib.sha256(manifest).hexdigest()
    assert json.loads(manifest)["build"]["source_params"]["images"] == member_images
    for r in done:
        assert r["data"] == (f"robustsam_release:{get_suite(suite).datasets[0].split} images={member_images} "
                             f"instances={instances} manifest_sha256={sha}")
    md = (out / f"{suite}.md").read_text()
    assert "## Data used" in md and f"`{sha}`" in md and f"| {member_images} | {instances} |" in md
    assert "assumed by image size" in md  # the rule that divided the pooled split is stated, as an assumption
    clear = [r for r in done if r["condition"] == "clear" and r["metric"] == "mIoU"]
    assert int(clear[0]["instances"]) == instances
