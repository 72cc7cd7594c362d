"""End to end through the console entry point, in subprocesses, as a user runs it."""
import numpy as np
import pytest
from datasets import load_dataset

from benchmark.schema import decode_rle
from benchmark.data.sources.synthetic import SyntheticSource

from .conftest import run_cli


def test_run_end_to_end_then_load_dataset(tmp_path):
    r = run_cli("run", "--out", tmp_path / "run", "--num-images", "4", "--image-size", "96x72",
                "--profile", "robustsam/contrast,robustsam/resampling_blur", "--model", "box,grabcut",
                "--protocol", "box,point")
    assert r.returncode == 0, r.stderr
    for piece in ("dataset:", "results:", "leaderboards:", "robustseg_box.csv", "load_dataset"):
        assert piece in r.stdout
    assert "build" in r.stderr and "%" in r.stderr  # progress bars go to stderr
    ds = load_dataset(str(tmp_path / "run" / "dataset"), "default", split="resampling_blur")
    src = SyntheticSource(num_images=4, width=96, height=72)
    assert len(ds) == 4
    for i, row in enumerate(ds):
        for o, ann in zip(row["objects"], src[i].objects, strict=True):
            assert np.array_equal(decode_rle(o["mask"]), ann.mask)
    lb = (tmp_path / "run" / "leaderboards" / "robustseg_box.csv").read_text().splitlines()
    assert lb[0].startswith("track,dataset,model") and any(",grabcut,measured," in l for l in lb)
    assert any(",reported," in l for l in lb)  # the run writes what the committed leaderboards hold
    assert (tmp_path / "run" / "leaderboards" / "site" / "track-robustseg_point.html").exists()
    assert "image" in r.stderr  # eval progress counts images


def test_version():
    from importlib.metadata import version

    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"robustseg {version('robustseg')}"


@pytest.mark.parametrize("args,expected", [
    (["build", "--out", "x", "--profile", "robustsam/nope"], "unknown corruption 'robustsam/nope'; valid names: "),
    (["build", "--out", "x", "--source", "nope"], "unknown source 'nope'; valid names: "),
    (["eval", "--dataset", ".", "--model", "nope"], "unknown model 'nope'; valid names: "),
])
def test_unknown_names_give_one_line_with_valid_names(tmp_path, args, expected):
    if args[0] == "eval":
        run_cli("build", "--out", tmp_path / "ds", "--num-images", "1", "--image-size", "32x32", "--profile", "clear")
        args = ["eval", "--dataset", str(tmp_path / "ds"), "--model", "nope", "--out", str(tmp_path / "r")]
    r = run_cli(*args, cwd=tmp_path)
    assert r.returncode == 2
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and expected in lines[0], r.stderr
    assert "box" in lines[0] or "synthetic" in lines[0] or "robustsam/" in lines[0]


def test_listings(tmp_path):
    for cmd, needle in (("models", "grabcut"), ("corruptions", "robustsam/contrast"), ("sources", "synthetic")):
        r = run_cli(cmd)
        assert r.returncode == 0 and needle in r.stdout


def test_train_then_eval_the_trained_weights(tmp_path):
    """The training recipe through the CLI, and its safetensors checkpoint through eval."""
    ds, run = tmp_path / "ds", tmp_path / "run"
    assert run_cli("build", "--out", ds, "--num-images", "3", "--image-size", "64x64",
                   "--profile", "robustsam/gauss_noise").returncode == 0
    r = run_cli("train", "robustsam", "--dataset", ds, "--out", run, "--config", "tiny", "--steps", "2",
                "--batch-size", "2", "--device", "cpu", "--random-weights")
    assert r.returncode == 0, r.stderr
    weights = run / "robustsam_vit_b.safetensors"
    assert f"weights: {weights}" in r.stdout and weights.exists()
    r = run_cli("eval", "--dataset", ds, "--model", "robustsam_vit_b", "--model-option", "config=tiny",
                "--checkpoint", weights, "--protocol", "box", "--out", tmp_path / "results")
    assert r.returncode == 0, r.stderr
    assert "robustsam_vit_b[config=tiny]" in r.stdout
    from benchmark.report.results import read_results
    from benchmark.jobs import sha256_file

    res = read_results(tmp_path / "results").to_pandas()
    assert len(res) > 0 and (res.checkpoint_sha256 == sha256_file(weights)).all()
