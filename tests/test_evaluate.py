import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from baselines import ModelOutputError
from benchmark.eval.evaluate import evaluate
from benchmark.report.results import read_results
from benchmark.schema import decode_rle


def test_box_baseline_iou_matches_independent_computation(tiny_dataset, tmp_path):
    r = evaluate("box", tiny_dataset, "box", tmp_path)
    assert r.files_done == r.files_total and r.rows > 0
    res = read_results(tmp_path).to_pandas()
    manifest = json.loads((tiny_dataset / "manifest.json").read_text())
    rel = next(f for f, m in manifest["files"].items() if m["split"] == "clear")
    row = pq.read_table(tiny_dataset / rel).to_pylist()[0]
    for o in row["objects"]:
        gt = decode_rle(o["mask"])
        x, y, w, h = (int(v) for v in o["bbox"])
        pred = np.zeros_like(gt)
        pred[y:y + h, x:x + w] = True  # the filled tight box
        expected = (pred & gt).sum() / (pred | gt).sum()
        got = res[(res.image_id == row["image_id"]) & (res.object_id == o["id"]) & (res.condition == "clear")]
        assert len(got) == 1
        assert got.iou.iloc[0] == pytest.approx(expected)
        assert got.dice.iloc[0] == pytest.approx(2 * (pred & gt).sum() / (pred.sum() + gt.sum()))
    assert set(res.condition) == {"clear", "gauss_noise", "brightness", "resampling_blur"}
    assert (res.model == "box").all() and (res.protocol == "box").all()


@pytest.mark.parametrize("pipelined", [True, False])
def test_progress_counts_images_and_resumed_files(tiny_dataset, tmp_path, pipelined):
    images = sum(m["rows"] for m in json.loads((tiny_dataset / "manifest.json").read_text())["files"].values())
    calls = []
    evaluate("box", tiny_dataset, "box", tmp_path, splits=None, pipelined=pipelined,
             progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (images, images) and len(calls) >= images  # one call per image, counting up
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    again = []
    evaluate("box", tiny_dataset, "box", tmp_path, progress=lambda d, t: again.append((d, t)))
    assert again[-1] == (images, images)  # files done by the first run count their images


def test_resume_recomputes_only_missing(tiny_dataset, tmp_path):
    evaluate("grabcut", tiny_dataset, "point", tmp_path)
    files = sorted(p for p in tmp_path.rglob("*.parquet"))
    before = {p: p.read_bytes() for p in files}
    files[0].unlink()
    r = evaluate("grabcut", tiny_dataset, "point", tmp_path)
    assert r.files_done == r.files_total
    assert {p: p.read_bytes() for p in files} == before


@pytest.mark.parametrize("cls,check", [("NaNScores", "scores.finite"), ("WrongShape", "masks.shape"),
                                       ("FloatMasks", "masks.dtype")])
def test_broken_model_names_the_failed_check(tiny_dataset, tmp_path, cls, check):
    with pytest.raises(ModelOutputError, match=rf"'{check}'.*image synthetic_"):
        evaluate(f"tests.badmodels:{cls}", tiny_dataset, "box", tmp_path)
    assert not list(tmp_path.rglob("*.parquet")), "a failed shard must leave no result file"


def test_unknown_protocol_and_split(tiny_dataset, tmp_path):
    with pytest.raises(KeyError, match="valid protocols"):
        evaluate("box", tiny_dataset, "lasso", tmp_path)
    with pytest.raises(KeyError, match="this dataset has"):
        evaluate("box", tiny_dataset, "box", tmp_path, splits=["fog"])


def test_incomplete_dataset_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="no manifest.json"):
        evaluate("box", tmp_path, "box", tmp_path / "r")


def test_model_that_raises_stops_naming_the_sample_or_is_skipped(tiny_dataset, tmp_path):
    from tests import badmodels

    badmodels.RaisesOnSecondImage.calls = 0
    with pytest.raises(ModelOutputError, match=r"model raised RuntimeError on .*image synthetic_0_00000\d: out of memory"):
        evaluate("tests.badmodels:RaisesOnSecondImage", tiny_dataset, "box", tmp_path / "a")
    badmodels.RaisesOnSecondImage.calls = 0
    r = evaluate("tests.badmodels:RaisesOnSecondImage", tiny_dataset, "box", tmp_path / "b", skip_errors=True)
    assert r.files_done == r.files_total
    n_images = sum(m["rows"] for m in json.loads((tiny_dataset / "manifest.json").read_text())["files"].values())
    assert len(r.skipped) == n_images - 1 and all("out of memory" in s["error"] for s in r.skipped)
    assert read_results(tmp_path / "b").to_pandas().image_id.nunique() == 1  # the one image before the failures


def test_changed_shard_is_refused(tiny_dataset, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_dataset, copy)
    shard = sorted((copy / "data").rglob("*.parquet"))[0]
    shard.write_bytes(shard.read_bytes() + b"\0")
    with pytest.raises(ValueError, match="sha256 differs from .*manifest.json"):
        evaluate("box", copy, "box", tmp_path / "r")


def test_shards_then_merge(tiny_dataset, tmp_path):
    from benchmark.eval.evaluate import IncompleteResultsError

    a = evaluate("box", tiny_dataset, "box", tmp_path / "sharded", shard=(0, 3))
    assert not a.complete
    with pytest.raises(IncompleteResultsError, match="not complete"):
        read_results(tmp_path / "sharded")
    with pytest.raises(IncompleteResultsError, match="have no verified results yet"):
        evaluate("box", tiny_dataset, "box", tmp_path / "sharded", merge=True)
    evaluate("box", tiny_dataset, "box", tmp_path / "whole")
    assert len(read_results(tmp_path / "sharded", allow_incomplete=True)) < len(read_results(tmp_path / "whole"))
    evaluate("box", tiny_dataset, "box", tmp_path / "sharded", shard=(2, 3))
    r = evaluate("box", tiny_dataset, "box", tmp_path / "sharded", shard=(1, 3))
    assert r.complete
    assert evaluate("box", tiny_dataset, "box", tmp_path / "sharded", merge=True).complete
    sharded = read_results(tmp_path / "sharded").to_pandas().sort_values(["split", "image_id", "object_id"])
    whole = read_results(tmp_path / "whole").to_pandas().sort_values(["split", "image_id", "object_id"])
    assert sharded.reset_index(drop=True).equals(whole.reset_index(drop=True))


def test_batched_image_encoding_gives_the_same_results(tiny_dataset, tmp_path):
    """encode_batch > 1 encodes several images in one forward (set_images/select_image)."""
    from baselines import create_model

    model = create_model("sam_vit_b", config="tiny")
    a = evaluate(model, tiny_dataset, "point", tmp_path / "one", splits=["clear"], random_weights=True)
    b = evaluate(model, tiny_dataset, "point", tmp_path / "batched", splits=["clear"], encode_batch=3,
                 random_weights=True)
    assert a.rows == b.rows > 0
    ra = read_results(tmp_path / "one", allow_random_weights=True).to_pandas().sort_values(["image_id", "object_id"]).reset_index(drop=True)
    rb = read_results(tmp_path / "batched", allow_random_weights=True).to_pandas().sort_values(["image_id", "object_id"]).reset_index(drop=True)
    assert (ra.iou - rb.iou).abs().max() < 1e-3 and (ra.score - rb.score).abs().max() < 1e-5
