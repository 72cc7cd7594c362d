"""The pipelined evaluator writes the same bytes as the sequential loop, for every protocol and for
weight-free and neural models; prompt batching across instances equals one call per instance."""
import json
import shutil

import numpy as np
import pytest

from baselines import ModelOutputError, Prediction, PromptableSegmenter, create_model
from benchmark.eval.evaluate import evaluate
from benchmark.errors import IntegrityError, UsageError
from benchmark.eval.protocols import EVAL_PROTOCOLS
from benchmark.report.results import read_results

INTERACTIVE = [p for p, s in EVAL_PROTOCOLS.items() if s.clicks]


def _outputs(root):
    """Every result file's bytes and every done-marker's skipped list, by relative path."""
    files = {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.parquet"))}
    markers = {str(p.relative_to(root)): json.loads(p.read_text())["skipped"]
               for p in sorted(root.rglob("done/*.json"))}
    assert files
    return files, markers


def _rows(root):
    df = read_results(root, allow_random_weights=True).to_pandas()  # the tiny SAM runs on random weights
    return df.sort_values(["split", "image_id", "object_id", "round"]).reset_index(drop=True)


@pytest.mark.parametrize("model", ["box", "grabcut"])
def test_pipelined_equals_sequential_bytes_weight_free(tiny_dataset, tmp_path, model):
    # GrabCut on two splits (4 files: file and split boundaries both crossed), the box on all four
    kw = {"splits": ["clear", "brightness"]} if model == "grabcut" else {}
    for protocol in EVAL_PROTOCOLS:
        a, b = tmp_path / f"seq-{protocol}", tmp_path / f"pipe-{protocol}"
        evaluate(model, tiny_dataset, protocol, a, pipelined=False, **kw)
        evaluate(model, tiny_dataset, protocol, b, workers=2, **kw)
        assert _outputs(a) == _outputs(b), protocol


@pytest.mark.parametrize("protocol", ["box", "point", "point3", "interactive", "sum_oracle", "sum_box_oracle"])
def test_pipelined_equals_sequential_bytes_sam(tiny_dataset, tmp_path, protocol):
    model = create_model("sam_vit_b", config="tiny")  # random init: a stand-in for the computation, not for quality
    kw = {"splits": ["clear"], "random_weights": True}  # 2 files: the pipeline crosses a file boundary
    evaluate(model, tiny_dataset, protocol, tmp_path / "seq", pipelined=False, **kw)
    evaluate(model, tiny_dataset, protocol, tmp_path / "pipe", workers=3, **kw)
    assert _outputs(tmp_path / "seq") == _outputs(tmp_path / "pipe")


def test_pipelined_with_batched_encoding_and_skipped_images(tiny_dataset, tmp_path):
    """encode_batch groups and images skipped on a model failure come out as in the sequential loop."""
    from tests import badmodels

    for label, kw in [("seq", {"pipelined": False}), ("pipe", {})]:
        badmodels.RaisesOnSecondImage.calls = 0
        evaluate("tests.badmodels:RaisesOnSecondImage", tiny_dataset, "interactive", tmp_path / label,
                 skip_errors=True, **kw)
    assert _outputs(tmp_path / "seq") == _outputs(tmp_path / "pipe")
    model = create_model("sam_vit_b", config="tiny")
    for label, kw in [("seq3", {"pipelined": False}), ("pipe3", {})]:
        evaluate(model, tiny_dataset, "box", tmp_path / label, splits=["clear"], encode_batch=3, random_weights=True,
                 **kw)
    assert _outputs(tmp_path / "seq3") == _outputs(tmp_path / "pipe3")


def test_first_failure_in_dataset_order_is_reported(tiny_dataset, tmp_path):
    from baselines import ModelOutputError

    with pytest.raises(ModelOutputError, match=r"'scores.finite'.*image synthetic_0_000000"):
        evaluate("tests.badmodels:NaNScores", tiny_dataset, "interactive", tmp_path)


class _FailsAtImage(PromptableSegmenter):
    """Raises on its ``at``-th image (counted over the whole evaluation), fine on every other."""

    name = "fails_at_image"

    def __init__(self, at: int):
        self.at, self.images, self.hw = at, 0, (0, 0)

    def set_image(self, image):
        self.images += 1
        self.hw = image.shape[:2]
        if self.images == self.at:
            raise RuntimeError("out of memory (simulated)")

    def predict(self, prompts, multimask=False):
        return Prediction(np.ones((len(prompts), 1, *self.hw), bool), np.ones((len(prompts), 1), np.float32))


@pytest.mark.parametrize("at", [1, 5, 7, 11])
def test_failure_in_a_later_shard_publishes_the_shards_before_it(tiny_dataset, tmp_path, at):
    """The pipeline runs across shard boundaries (the next shard's images are decoded, the previous
    shard's results assembled and written behind the model), yet a failure leaves exactly the files the
    plain loop leaves: every shard before the failing image, none from it on."""
    for label, kw in [("seq", {"pipelined": False}), ("pipe", {"workers": 2})]:
        with pytest.raises(ModelOutputError) as e:
            evaluate(_FailsAtImage(at), tiny_dataset, "box", tmp_path / label, **kw)
        assert "out of memory (simulated)" in str(e.value)
    seq, pipe = tmp_path / "seq", tmp_path / "pipe"
    assert sorted(p.relative_to(seq) for p in seq.rglob("*.*")) == sorted(p.relative_to(pipe) for p in pipe.rglob("*.*"))
    if at > 4:  # past the first shard (4 images)
        assert _outputs(seq) == _outputs(pipe)


def test_unreadable_later_shard_fails_after_the_shards_before_it(tiny_dataset, tmp_path):
    """A dataset file that fails verification is reported when its turn comes, after the results of
    the files before it are written, although the pipeline loaded it early."""
    ds = tmp_path / "ds"
    shutil.copytree(tiny_dataset, ds)
    third = sorted((ds / "data").rglob("*.parquet"))[2]
    third.write_bytes(third.read_bytes()[:-10] + b"0123456789")
    for label, kw in [("seq", {"pipelined": False}), ("pipe", {})]:
        with pytest.raises(IntegrityError, match=f"{third.name}: sha256 differs"):
            evaluate("box", ds, "box", tmp_path / label, **kw)
    assert len(_outputs(tmp_path / "seq")[0]) == 2
    assert _outputs(tmp_path / "seq") == _outputs(tmp_path / "pipe")


@pytest.mark.parametrize("model", ["box", "grabcut"])
def test_click_batch_equals_one_call_per_instance_weight_free(tiny_dataset, tmp_path, model):
    """Each round of the clicker sent for several instances in one predict call: for models whose batch
    equals their loop, the results are the same bytes."""
    kw = {"splits": ["clear", "brightness"]} if model == "grabcut" else {}
    for protocol in ("interactive", "sum_oracle", "sum_box_oracle", "sum_boundary"):
        evaluate(model, tiny_dataset, protocol, tmp_path / f"one-{protocol}", **kw)
        evaluate(model, tiny_dataset, protocol, tmp_path / f"batch-{protocol}", click_batch=3, **kw)
        assert _outputs(tmp_path / f"one-{protocol}") == _outputs(tmp_path / f"batch-{protocol}")


def test_click_batch_and_prompt_batch_match_the_loop_for_sam(tiny_dataset, tmp_path):
    """A neural model's batch differs from its loop by float rounding only: round-1 results agree
    closely (later rounds may click elsewhere once a thresholded pixel flips)."""
    model = create_model("sam_vit_b", config="tiny")
    kw = {"splits": ["clear"], "random_weights": True}
    evaluate(model, tiny_dataset, "sum_single", tmp_path / "one", **kw)
    evaluate(model, tiny_dataset, "sum_single", tmp_path / "batch", click_batch=4, **kw)
    a, b = _rows(tmp_path / "one"), _rows(tmp_path / "batch")
    assert len(a) == len(b) > 0
    r1a, r1b = a[a["round"] == 1].reset_index(drop=True), b[b["round"] == 1].reset_index(drop=True)
    np.testing.assert_allclose(r1a.score, r1b.score, atol=1e-5)
    np.testing.assert_allclose(r1a.iou, r1b.iou, atol=1e-3)
    evaluate(model, tiny_dataset, "point", tmp_path / "loop", batch_size=1, **kw)
    evaluate(model, tiny_dataset, "point", tmp_path / "batched", batch_size=64, **kw)
    a, b = _rows(tmp_path / "loop"), _rows(tmp_path / "batched")
    np.testing.assert_allclose(a.score, b.score, atol=1e-5)
    np.testing.assert_allclose(a.iou, b.iou, atol=1e-3)


@pytest.mark.parametrize("model", ["box", "grabcut"])
def test_prompt_batch_equals_loop_weight_free(tiny_dataset, tmp_path, model):
    for protocol in ("box", "point5", "centre"):
        evaluate(model, tiny_dataset, protocol, tmp_path / f"loop-{protocol}", batch_size=1)
        evaluate(model, tiny_dataset, protocol, tmp_path / f"batch-{protocol}", batch_size=64)
        assert _outputs(tmp_path / f"loop-{protocol}") == _outputs(tmp_path / f"batch-{protocol}")


def test_bad_pipeline_arguments_are_refused(tiny_dataset, tmp_path):
    with pytest.raises(UsageError, match="at least 1"):
        evaluate("box", tiny_dataset, "box", tmp_path, click_batch=0)
    with pytest.raises(UsageError, match="at least 1"):
        evaluate("box", tiny_dataset, "box", tmp_path, workers=0)
    with pytest.raises(UsageError, match="needs the pipelined evaluator"):
        evaluate("box", tiny_dataset, "interactive", tmp_path, click_batch=2, pipelined=False)
