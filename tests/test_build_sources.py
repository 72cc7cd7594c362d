"""Builds from native formats through the CLI, including bad samples with and without --skip-bad."""
import json

import cv2
import numpy as np
from datasets import load_dataset
from pycocotools.coco import COCO

from benchmark.schema import decode_rle

from .conftest import run_cli


def _salient_folder(root, n=4):
    (root / "images").mkdir(parents=True)
    (root / "ground_truth_mask").mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        img = rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)
        mask = np.zeros((40, 50), np.uint8)
        mask[5 + i:20 + i, 10:30] = 255
        cv2.imwrite(str(root / "images" / f"{i:04d}.jpg"), img)
        cv2.imwrite(str(root / "ground_truth_mask" / f"{i:04d}.png"), mask)
    return root


def test_corrupt_jpeg_stops_naming_the_file_or_is_skipped_and_reported(tmp_path):
    root = _salient_folder(tmp_path / "ecssd")
    bad = root / "images" / "0002.jpg"
    bad.write_bytes(bad.read_bytes()[: len(bad.read_bytes()) // 2])
    args = ["build", "--source", "ecssd", "--root", root, "--profile", "robustsam/contrast"]
    r = run_cli(*args, "--out", tmp_path / "a")
    assert r.returncode == 2 and "0002.jpg" in r.stderr and "truncated" in r.stderr.lower(), r.stderr
    assert not (tmp_path / "a" / "manifest.json").exists()
    r = run_cli(*args, "--skip-bad", "--out", tmp_path / "b")
    assert r.returncode == 0, r.stderr
    assert "skipped 1 bad samples" in r.stdout
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert len(manifest["skipped"]) == 1 and "0002.jpg" in manifest["skipped"][0]["error"]
    assert manifest["splits"]["default"]["clear"]["rows"] == 3
    assert "Skipped samples (1)" in (tmp_path / "b" / "README.md").read_text()


def test_coco_build_masks_match_pycocotools(tmp_path, shared_data):
    root = shared_data / "coco"
    ann = sorted((root / "annotations").glob("instances_*.json"))[0]
    r = run_cli("build", "--source", "coco", "--root", root, "--source-option",
                f"annotations=annotations/{ann.name}", "--source-option", "images=images", "--profile", "clear",
                "--image-format", "png", "--out", tmp_path / "coco")
    assert r.returncode == 0, r.stderr
    coco = COCO(str(ann))
    ds = load_dataset(str(tmp_path / "coco"), "default", split="clear")
    n = 0
    for row in ds:
        for o in row["objects"]:
            want = coco.annToMask(coco.anns[o["id"]]).astype(bool)
            assert np.array_equal(decode_rle(o["mask"]), want)
            n += 1
    assert n == sum(1 for a in coco.anns.values() if coco.annToMask(a).any())
