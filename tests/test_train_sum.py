"""SUM's training recipes (``sum-refine`` then ``sum``) on tiny random-init models: the uncertainty-aware
losses against a numpy reference, certainty-weighted sampling, the labelled/unlabelled partition, loss
falls in both stages, resume after a kill equals an uninterrupted run, CLI misuse is one line."""
from __future__ import annotations

import csv
import itertools
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from baselines import create_model  # noqa: E402
from baselines.sam.sum_training import stability_score, weighted_pixel  # noqa: E402
from benchmark.train import RECIPES, recipe_for, train  # noqa: E402
from benchmark.train.data import index_dataset, is_unlabelled, recipe_plan, stream  # noqa: E402
from benchmark.train.forward import training_loss  # noqa: E402
from benchmark.train.loop import load_init  # noqa: E402
from benchmark.train.optim import layer_scale  # noqa: E402
from benchmark.train.sum_losses import sigmoid_focal, ua_dice, ua_focal  # noqa: E402
from benchmark.train.sum_setup import prepare_sum  # noqa: E402
from .conftest import run_cli  # noqa: E402
from .test_train import Killed, dataset, one_thread, sam_init  # noqa: E402,F401  (shared fixtures)

TINY = {"config": "tiny", "train_size": 64, "device": "cpu", "progress_bar": False}
# tiny random SAMs score their masks low: SAM's pseudo-label filters would drop every one, so the loss
# tests open them (the filters themselves are tested below) and shorten the interactive rounds
OPEN = {"min_pred_iou": 0.0, "min_stability": 0.0, "refine_min_iou": 0.0}


def _open_filters(mp: pytest.MonkeyPatch) -> None:
    for fam in ("sum", "sum_refine"):
        r = RECIPES[fam]
        mp.setitem(RECIPES, fam, replace(r, options={**r.options, **OPEN, **({"rounds": 3} if fam == "sum" else {})}))


@pytest.fixture
def open_filters(monkeypatch):
    _open_filters(monkeypatch)


# losses and sampling ------------------------------------------------------------------------------

def test_uncertainty_aware_losses_match_numpy_reference():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(2, 1, 8, 8))
    target = (rng.random((2, 1, 8, 8)) < 0.4).astype(float)
    cert = rng.random((2, 1, 8, 8))
    p = 1 / (1 + np.exp(-logits))
    p_t = np.where(target > 0, p, 1 - p)
    alpha_t = np.where(target > 0, 0.25, 0.75)
    focal = alpha_t * (1 - p_t) ** 2 * -np.log(p_t)
    keep = (cert > 0.6).reshape(2, -1)
    pf, tf = p.reshape(2, -1) * keep, target.reshape(2, -1) * keep
    ref_dice = np.mean(1 - (2 * (pf * tf).sum(1) + 1) / (pf.sum(1) + tf.sum(1) + 1))
    lt, tt, ct = torch.tensor(logits), torch.tensor(target), torch.tensor(cert)
    assert float(ua_focal(lt, tt, ct)) == pytest.approx(np.mean(cert * focal), rel=1e-5)
    assert float(ua_dice(lt, tt, ct, 0.6)) == pytest.approx(ref_dice, rel=1e-5)
    ones = torch.ones_like(ct)  # labelled pixels: the standard losses
    assert float(ua_focal(lt, tt, ones)) == pytest.approx(float(sigmoid_focal(lt, tt).mean()), rel=1e-6)
    assert float(ua_focal(lt, tt, torch.zeros_like(ct))) == 0.0


def test_certainty_weighted_sampling_and_sam_filters():
    region = torch.ones(6, 6, dtype=torch.bool)
    weights = torch.zeros(6, 6)
    weights[2, 4] = 1.0
    gen = torch.Generator().manual_seed(0)
    assert {weighted_pixel(region, weights, gen) for _ in range(20)} == {(4, 2)}  # (x, y)
    uniform = {weighted_pixel(region, torch.zeros(6, 6), gen) for _ in range(200)}
    assert len(uniform) > 20  # no certainty at all: uniform over the region
    assert weighted_pixel(torch.zeros(6, 6, dtype=torch.bool), weights, gen) is None
    sure = torch.full((4, 4), -5.0)
    sure[:2] = 5.0
    shaky = sure.clone()
    shaky[2] = 0.5  # inside (> 0) but not > +1: 8 pixels > +1 of 12 > -1
    assert stability_score(sure) == 1.0 and stability_score(shaky) == pytest.approx(2 / 3)


def test_layer_wise_lr_decay_follows_sam():
    assert layer_scale("image_encoder.blocks.11.attn.qkv.weight", 12, 0.8) == pytest.approx(0.8)
    assert layer_scale("image_encoder.blocks.0.norm1.weight", 12, 0.8) == pytest.approx(0.8 ** 12)
    assert layer_scale("image_encoder.patch_embed.proj.weight", 12, 0.8) == pytest.approx(0.8 ** 13)
    assert layer_scale("mask_decoder.iou_token.weight", 12, 0.8) == 1.0
    assert layer_scale("image_encoder.neck.0.weight", 12, 0.8) == 1.0


def test_partition_refine_sees_labelled_only_sum_sees_both(dataset):
    index = index_dataset(dataset)
    ids = sorted({i for g in index.groups for i in g.rows})
    held = {i for i in ids if is_unlabelled(i, 0.5)}
    assert 0 < len(held) < len(ids)
    refine, sum_ = replace(recipe_for("sum-refine"), train_size=64), replace(recipe_for("sum"), train_size=64)
    assert {p.image_id for p in recipe_plan(index, refine, 0, 0)} == set(ids) - held
    items = list(itertools.islice(stream(index, sum_, seed=0), len(ids)))
    assert {it.image_id for it in items if it.unlabelled} == held


def test_every_default_names_its_source():
    for fam in ("sum", "sum_refine"):
        r = RECIPES[fam]
        for key in ("trainable", "optimizer", "lr", "weight_decay", "batch_size", "train_size", "prompt",
                    "focal_weight", "dice_weight", "focal_alpha", "dice_smooth", "grad_clip", "unlabelled_fraction",
                    "options.certainty_threshold", "options.min_pred_iou", "length"):
            assert r.sources.get(key), (fam, key)
    assert RECIPES["sum"].sources["layer_decay"] and RECIPES["sum"].sources["options.rounds"]
    assert recipe_for("sum_vit_h").family == "sum" and recipe_for("sum_refine_vit_l").family == "sum_refine"


# training -----------------------------------------------------------------------------------------

def _fixed_loss(model, recipe, dataset) -> float:
    recipe = replace(recipe, train_size=64)
    items = list(itertools.islice(stream(index_dataset(dataset), recipe, seed=99), 8))
    with torch.no_grad():
        return float(training_loss(model.train(), items, recipe, torch.Generator().manual_seed(0), "cpu").total)


def _models(name, weights, recipe, sam_init, refiner=None):
    """(initial, trained) tiny models with SUM's helpers attached to both (same labeller and refiner)."""
    before = create_model("sum_vit_b", config="tiny").model
    load_init(before, sam_init, recipe)
    prepare_sum(before, recipe, refiner)
    after = create_model("sum_vit_b", checkpoint=str(weights), config="tiny").model
    h = before.sum_helpers
    after.attach_training(h.config, h.labeller, h.refiner)
    return before, after


@pytest.fixture(scope="module")
def stages(dataset, sam_init, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    _open_filters(mp)
    try:
        ref = train("sum-refine", dataset, tmp_path_factory.mktemp("ref"), steps=16, batch_size=2, lr=1e-3,
                    init_checkpoint=sam_init, save_every=100, **TINY)
        sm = train("sum", dataset, tmp_path_factory.mktemp("sum"), steps=16, batch_size=4, lr=1e-3,
                   init_checkpoint=sam_init, refiner_checkpoint=str(ref.weights), save_every=100, **TINY)
        yield {"sum_refine": ref, "sum": sm, "recipes": {f: RECIPES[f] for f in ("sum", "sum_refine")}}
    finally:
        mp.undo()


def test_refinement_module_loss_falls_and_only_decoder_and_prompt_encoder_change(stages, dataset, sam_init):
    res, recipe = stages["sum_refine"], stages["recipes"]["sum_refine"]
    before, after = _models("sum-refine", res.weights, recipe, sam_init)
    l0, l1 = _fixed_loss(before, recipe, dataset), _fixed_loss(after, recipe, dataset)
    assert l1 < 0.97 * l0, (l0, l1)
    a, b = before.state_dict(), after.state_dict()
    changed = {k for k in a if not torch.equal(a[k], b[k])}
    assert changed and all(k.startswith(("prompt_encoder.", "mask_decoder.")) for k in changed)


def test_sum_loss_falls_with_uncertainty_from_the_module(stages, dataset, sam_init):
    res, recipe = stages["sum"], stages["recipes"]["sum"]
    before, after = _models("sum", res.weights, recipe, sam_init, str(stages["sum_refine"].weights))
    l0, l1 = _fixed_loss(before, recipe, dataset), _fixed_loss(after, recipe, dataset)
    assert l1 < 0.97 * l0, (l0, l1)
    rows = list(csv.DictReader(open(res.log)))
    assert [int(r["step"]) for r in rows] == list(range(1, 17)) and all(np.isfinite(float(r["iou"])) for r in rows)
    # the unlabelled items carry a real uncertainty map: certainty below 1 somewhere, above 0 somewhere
    items = list(itertools.islice(stream(index_dataset(dataset), replace(recipe, train_size=64), seed=3), 8))
    assert any(it.unlabelled for it in items) and any(not it.unlabelled for it in items)
    from baselines.training import TrainingBatch

    batch = TrainingBatch([it.image for it in items], [it.points for it in items], [it.box for it in items], 64,
                          masks=[it.mask for it in items], unlabelled=[it.unlabelled for it in items])
    with torch.no_grad():
        out = before.training_outputs(batch, generator=torch.Generator().manual_seed(0))
    cert = out.certainty[: len(items), 0]
    unl = [i for i, it in enumerate(items) if it.unlabelled]
    lab = [i for i, it in enumerate(items) if not it.unlabelled]
    assert bool((cert[lab] == 1).all()) and float(cert[unl].min()) < 1 and float(cert[unl].max()) > 0
    assert out.logits.shape == (3 * len(items), 1, 64, 64) and out.iou_pred.shape == (3 * len(items), 1)
    a, b = before.state_dict(), after.state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a if k.startswith("image_encoder."))  # all of SAM trains
    assert torch.equal(a["prompt_encoder.task_prompt_embedding.0.weight"],
                       b["prompt_encoder.task_prompt_embedding.0.weight"])  # the zero task prompt stays zero


def test_sum_resume_after_kill_equals_uninterrupted_run(stages, dataset, sam_init, tmp_path, open_filters):
    kw = dict(steps=4, batch_size=2, grad_accum=2, lr=1e-3, save_every=2, init_checkpoint=sam_init,
              refiner_checkpoint=str(stages["sum_refine"].weights), **TINY)
    full = train("sum", dataset, tmp_path / "full", **kw)

    def kill_at_3(log):
        if log.step == 3:
            raise Killed  # after step 3 ran and was logged, before any checkpoint of it

    with pytest.raises(Killed):
        train("sum", dataset, tmp_path / "resumed", progress=kill_at_3, **kw)
    res = train("sum", dataset, tmp_path / "resumed", **kw)
    assert res.start_step == 2
    logs = [list(csv.DictReader(open(r.log))) for r in (full, res)]
    assert [r["step"] for r in logs[1]] == ["1", "2", "3", "4"]
    for a, b in zip(*logs):
        assert (a["loss"], a["grad_norm"], a["iou"]) == (b["loss"], b["grad_norm"], b["iou"])
    from safetensors.torch import load_file

    wa, wb = load_file(str(full.weights)), load_file(str(res.weights))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_sum_weights_load_through_registry(stages):
    adapter = create_model("sum_vit_b", checkpoint=str(stages["sum"].weights), config="tiny", task="entity")
    assert adapter.checkpoint_sha256


# CLI misuse ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, says", [
    (["sum"], "needs --refiner"),
    (["gara-sam", "--refiner", "x.safetensors"], "--refiner is only for training sum"),
    (["sum", "--refiner", "missing.safetensors"], "checkpoint file not found"),
    (["sam_vit_b"], "no training recipe for model 'sam_vit_b'"),
])
def test_cli_misuse_is_one_line_exit_2(args, says, dataset, tmp_path):
    r = run_cli("train", *args, "--dataset", dataset, "--out", tmp_path / "run", "--config", "tiny",
                "--random-weights", "--steps", "1", "--batch-size", "1", "--train-size", "32")
    assert r.returncode == 2, r.stderr
    assert says in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_cli_refiner_from_other_sam_weights_is_refused(stages, dataset, sam_init, tmp_path):
    """The refinement module must carry the initial SAM's image encoder unchanged."""
    from safetensors.torch import load_file, save_file

    sd = load_file(str(stages["sum_refine"].weights))
    key = next(k for k in sd if k.startswith("image_encoder."))
    sd[key] = sd[key] + 1
    other = tmp_path / "other.safetensors"
    save_file(sd, str(other))
    r = run_cli("train", "sum", "--dataset", dataset, "--out", tmp_path / "run", "--config", "tiny",
                "--init-checkpoint", sam_init, "--steps", "1", "--batch-size", "1", "--train-size", "32",
                "--refiner", other)
    assert r.returncode == 2 and "image encoder differs from the initial SAM" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_training_prompt_embedding_equals_the_inference_encoder():
    """The training forward adds the task prompt as SumAdapter's encoder does (task 0 adds the zero vector,
    which training leaves out so it gets no gradient)."""
    model = create_model("sum_vit_b", config="tiny").model.eval()
    with torch.no_grad():
        for emb in model.prompt_encoder.task_prompt_embedding[1:]:
            emb.weight.normal_()
        pts = (torch.tensor([[[20.0, 30.0], [50.0, 60.0]]]), torch.tensor([[1, 0]], dtype=torch.int))
        box = torch.tensor([10.0, 12.0, 90.0, 100.0])
        mask = torch.randn(1, 1, 32, 32)
        for task in (0, 2):
            want = model.prompt_encoder(pts, box[None], mask, task_prompt=task)
            got = model._embed(model.prompt_encoder, [(20.0, 30.0), (50.0, 60.0)], [1, 0], box, mask, task, 128)
            for a, b in zip(got, want):
                torch.testing.assert_close(a, b, rtol=0, atol=0)
