"""The semantic track end to end from the CLI: build a semantic dataset (real Cityscapes frame and a GTA5
fixture), evaluate SegFormer and its ECOC variant (tiny, random weights, explicitly asked and labelled),
and regenerate the leaderboard with a ``semantic`` track."""
import csv

import cv2
import numpy as np
import pytest

from benchmark.cli import main
from benchmark.jobs import read_state

pytest.importorskip("torch")


def _run(*argv):
    return main([str(a) for a in argv])


def test_semantic_track_end_to_end(tmp_path, shared_data, capsys):
    ds = tmp_path / "cityscapes-c"
    assert _run("build", "--source", "cityscapes-semantic", "--root", shared_data / "adverse/cityscapes",
                "--profile", "robustsam/gauss_noise,robustsam/elastic_transform", "--image-format", "png",
                "--out", ds) == 0
    res = tmp_path / "results"
    capsys.readouterr()
    assert _run("eval", "--dataset", ds, "--model", "segformer-b0", "--out", res) == 2
    assert "give --checkpoint" in capsys.readouterr().err
    ecoc = ["--model-option", "config=tiny", "--model-option", "codebook_trials=64", "--random-weights", "--out", res]
    assert _run("eval", "--dataset", ds, "--model", "segformer-b0", "--model", "ecocseg-segformer-b0", *ecoc) == 2
    assert "segformer (softmax head) takes no option codebook_trials" in capsys.readouterr().err
    assert _run("eval", "--dataset", ds, "--model", "segformer-b0", "--model-option", "config=tiny",
                "--random-weights", "--out", res) == 0
    assert _run("eval", "--dataset", ds, "--model", "ecocseg-segformer-b0", *ecoc) == 0
    target = res / "cityscapes-c/segformer-b0[config=tiny]/semantic"
    assert read_state(target / ".robustseg/eval.json")["random_weights"] is True  # as instance results record it
    assert read_state(target / "manifest.json")["evaluation"]["random_weights"] is True
    lb = tmp_path / "lb"
    capsys.readouterr()
    assert _run("leaderboard", res, "--out", lb, "--no-plots", "--no-reported") == 2
    err = capsys.readouterr().err.strip()
    assert "made with random weights" in err and "--allow-random-weights" in err and not lb.exists()
    assert _run("leaderboard", res, "--out", lb, "--no-plots", "--no-reported", "--allow-random-weights") == 0
    rows = list(csv.DictReader((lb / "semantic.csv").open()))
    assert {r["condition"] for r in rows} == {"clear", "gauss_noise", "elastic_transform"}
    assert {r["model"] for r in rows} == {"segformer-b0[config=tiny] (random weights)",
                                          "ecocseg-segformer-b0[codebook_trials=64,config=tiny] (random weights)"}
    assert all(r["track"] == "semantic" for r in rows)
    assert all(0 <= float(r["mIoU"]) <= 100 and r["instances"] == "1" for r in rows)
    assert "## cityscapes-c" in (lb / "semantic.md").read_text()
    capsys.readouterr()
    assert _run("eval", "--dataset", ds, "--model", "box", "--out", res) == 2
    assert "is a semantic dataset" in capsys.readouterr().err
    classes = list(csv.DictReader((lb / "semantic_classes.csv").open()))
    assert {r["class"] for r in classes} >= {"road", "bicycle"}
    assert (lb / "semantic_wilcoxon.csv").exists()


def test_semantic_model_on_an_instance_dataset_is_one_line(tiny_dataset, tmp_path, capsys):
    assert _run("eval", "--dataset", tiny_dataset, "--model", "segformer-b0", "--model-option", "config=tiny",
                "--random-weights", "--out", tmp_path) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not a semantic dataset" in err


def test_gta5_fixture_builds_and_evaluates(tmp_path):
    rng = np.random.default_rng(0)
    for d in ("images", "labels"):
        (tmp_path / "gta" / d).mkdir(parents=True)
    for i in range(2):
        cv2.imwrite(str(tmp_path / f"gta/images/0000{i}.png"), rng.integers(0, 256, (40, 48, 3), dtype=np.uint8))
        cv2.imwrite(str(tmp_path / f"gta/labels/0000{i}.png"), rng.integers(0, 34, (40, 48)).astype(np.uint8))
    assert _run("build", "--source", "gta5", "--root", tmp_path / "gta", "--profile", "clear", "--out",
                tmp_path / "ds") == 0
    assert _run("eval", "--dataset", tmp_path / "ds", "--model", "segformer-b0", "--model-option", "config=tiny",
                "--random-weights", "--out", tmp_path / "res") == 0
    assert list((tmp_path / "res/ds").iterdir())[0].name == "segformer-b0[config=tiny]"


def test_train_ecocseg_then_evaluate_the_trained_weights(tmp_path, shared_data):
    rng = np.random.default_rng(1)
    for d in ("images", "labels"):
        (tmp_path / "gta" / d).mkdir(parents=True)
    for i in range(2):
        cv2.imwrite(str(tmp_path / f"gta/images/0000{i}.png"), rng.integers(0, 256, (40, 48, 3), dtype=np.uint8))
        cv2.imwrite(str(tmp_path / f"gta/labels/0000{i}.png"), rng.integers(0, 34, (40, 48)).astype(np.uint8))
    assert _run("build", "--source", "gta5", "--root", tmp_path / "gta", "--profile", "clear", "--out", tmp_path / "src") == 0
    assert _run("build", "--source", "cityscapes-semantic", "--root", shared_data / "adverse/cityscapes", "--profile",
                "clear", "--image-format", "png", "--out", tmp_path / "tgt") == 0
    import hashlib
    import json

    import torch

    from baselines.segformer.configs import CONFIGS
    from baselines.segformer.head import SegFormer

    torch.save(SegFormer(CONFIGS["tiny"], 19).backbone.state_dict(), tmp_path / "mit_tiny.pth")  # an "ImageNet" MiT
    assert _run("train", "ecocseg", "--dataset", tmp_path / "src", "--target-dataset", tmp_path / "tgt", "--out",
                tmp_path / "run", "--config", "tiny", "--steps", "2", "--batch-size", "1", "--train-size", "32",
                "--device", "cpu", "--recipe-option", "rcs_min_pixels=50",
                "--init-checkpoint", tmp_path / "mit_tiny.pth") == 0
    weights = tmp_path / "run/weights.safetensors"
    assert weights.exists() and (tmp_path / "run/recipe.json").exists()
    identity = json.loads((tmp_path / "run/train.json").read_text())["identity"]
    assert identity["init_checkpoint_sha256"] == hashlib.sha256((tmp_path / "mit_tiny.pth").read_bytes()).hexdigest()
    assert _run("eval", "--dataset", tmp_path / "tgt", "--model", "ecocseg-segformer-b0", "--model-option",
                "config=tiny", "--checkpoint", weights, "--out", tmp_path / "res") == 0
    assert [p.name for p in (tmp_path / "res/tgt").iterdir()] == ["ecocseg-segformer-b0[config=tiny]"]
