import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from datasets import load_dataset

from benchmark.data.build import BuildConfig, BuildConflictError, build, plan_chunks
from benchmark.jobs import sha256_file
from benchmark.schema import decode_rle
from benchmark.data.sources.synthetic import SyntheticSource

from .killpoints import run_until

CFG = BuildConfig(source_options={"num_images": 7, "width": 80, "height": 60},
                  profile="robustsam/gauss_noise,robustsam/contrast", images_per_shard=3)


def tree_bytes(root: Path) -> dict:
    """Every published file (not the .robustseg state) -> sha256."""
    return {str(p.relative_to(root)): sha256_file(p) for p in sorted(root.rglob("*"))
            if p.is_file() and ".robustseg" not in p.parts}


def test_build_loads_back_with_exact_masks(tmp_path):
    out = tmp_path / "ds"
    r = build(CFG, out)
    assert r.complete and r.chunks_total == 3
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["splits"]["default"]) == {"clear", "gauss_noise", "contrast"}
    for rel, meta in manifest["files"].items():
        assert sha256_file(out / rel) == meta["sha256"]
    src = SyntheticSource(num_images=7, width=80, height=60)
    for split in ("clear", "gauss_noise", "contrast"):
        ds = load_dataset(str(out), "default", split=split)
        assert len(ds) == 7
        assert ds.features == __import__("benchmark.schema", fromlist=["FEATURES"]).FEATURES
        for i, row in enumerate(ds):
            sample = src[i]
            assert row["image_id"] == sample.image_id and row["condition"] == split and row["severity"] == 0
            assert row["image"].size == (80, 60)
            assert len(row["objects"]) == len(sample.objects)
            for o, ann in zip(row["objects"], sample.objects):
                assert o["id"] == ann.id
                assert np.array_equal(decode_rle(o["mask"]), ann.mask)
                assert o["area"] == int(ann.mask.sum())
    clear = load_dataset(str(out), "default", split="clear")
    # the clear image round-trips through JPEG q95: close to the generated one, not equal
    diff = np.abs(np.asarray(clear[0]["image"], dtype=int) - src[0].image.astype(int)).mean()
    assert diff < 6


def test_same_bytes_for_any_workers_or_shards(tmp_path):
    build(CFG, tmp_path / "a")
    build(CFG, tmp_path / "b", num_workers=2)
    build(CFG, tmp_path / "c", shard=(1, 2))
    r = build(CFG, tmp_path / "c", shard=(0, 2))
    assert r.complete
    a = tree_bytes(tmp_path / "a")
    assert a == tree_bytes(tmp_path / "b") == tree_bytes(tmp_path / "c")
    assert any(k.endswith(".parquet") for k in a)


def test_partial_shard_is_not_complete(tmp_path):
    r = build(CFG, tmp_path / "d", shard=(0, 2))
    assert not r.complete and not (tmp_path / "d" / "manifest.json").exists()


def test_different_build_is_refused(tmp_path):
    build(CFG, tmp_path / "e")
    other = BuildConfig(**{**CFG.__dict__, "seed": 1})
    with pytest.raises(BuildConflictError, match="differs in: seed"):
        build(other, tmp_path / "e")
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "mine.txt").write_text("x")
    with pytest.raises(BuildConflictError, match="not empty"):
        build(CFG, tmp_path / "f")


def test_partitions_are_disjoint_and_cover():
    cfg = BuildConfig(source_options={"num_images": 50}, partitions=(("train", 0.8), ("val", 0.1), ("test", 0.1)),
                      images_per_shard=16)
    chunks = plan_chunks(cfg, 50)
    got = {}
    for c in chunks:
        got.setdefault(c.config, []).extend(c.source_indices)
    assert {k: len(v) for k, v in got.items()} == {"train": 40, "val": 5, "test": 5}
    assert sorted(sum(got.values(), [])) == list(range(50))


@pytest.mark.parametrize("event,after", [
    ("identity", 1),   # at start: the identity is written, nothing built
    ("marker", 1),     # after 1 chunk
    ("marker", 4),     # after 4 chunks
    ("temp", 40),      # mid-write: the 40th of 96 parquet files exists only as a temp file
    ("unmarked", 4),   # chunk 4's files published, its done-marker not yet written
])
def test_resume_after_kill_gives_same_bytes(tmp_path, event, after):
    """kill -9 a build at points chosen by its state (tests/killpoints.py), rerun it, compare with an
    uninterrupted build: no row lost or duplicated, no temp file left, the same bytes."""
    args = ["build", "--num-images", "12", "--image-size", "160x120", "--profile", "robustsam",
            "--images-per-shard", "2", "--seed", "3", "--image-format", "png"]
    ref = tmp_path / "ref"
    subprocess.run([sys.executable, "-m", "benchmark.cli", *args, "--out", str(ref)], check=True, capture_output=True)
    out = tmp_path / "killed"
    r = run_until("SIGKILL", event, after, [*args, "--out", out])
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert not (out / "manifest.json").exists()
    r = subprocess.run([sys.executable, "-m", "benchmark.cli", *args, "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert tree_bytes(out) == tree_bytes(ref)
    assert not list(out.rglob("*.tmp"))
