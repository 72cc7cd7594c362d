"""Training recipes on tiny random-init models: losses against a numpy reference, the training forwards
against the inference adapters, loss falls, resume equals an uninterrupted run, and the saved weights
load through the registry and evaluate."""
from __future__ import annotations

import csv
import itertools
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from baselines import create_model  # noqa: E402
from baselines.checkpoints import CheckpointError  # noqa: E402
from benchmark.data.build import BuildConfig, build  # noqa: E402
from benchmark.eval.evaluate import evaluate  # noqa: E402
from benchmark.report.results import read_results  # noqa: E402
from benchmark.jobs import sha256_file  # noqa: E402
from benchmark.train import RECIPES, TrainConflictError, recipe_for, train  # noqa: E402
from benchmark.train.data import index_dataset, stream  # noqa: E402
from baselines.sam.gara_sam import gumbel_gates  # noqa: E402
from benchmark.train.forward import training_loss  # noqa: E402
from benchmark.train.losses import dice_loss, focal_loss  # noqa: E402
from benchmark.train.loop import load_init  # noqa: E402

FAMILIES = {"gara_sam": "gara_sam_vit_b", "robustsam": "robustsam_vit_b"}
TINY = {"config": "tiny", "train_size": 64, "device": "cpu", "progress_bar": False, "random_weights": True}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run faster on one thread, and on a busy 2-core machine much faster."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("train") / "ds"
    cfg = BuildConfig(source_options={"num_images": 8, "width": 64, "height": 64},
                      profile="robustsam/gauss_noise,robustsam/brightness", images_per_shard=8, image_format="png")
    assert build(cfg, out).complete
    return out


@pytest.fixture(scope="module")
def sam_init(tmp_path_factory):
    """SAM-format weights (tiny) standing in for the official SAM checkpoint. The random decoder's mask
    head is scaled up so its logits depend on the image, as a pretrained SAM's do (random init gives
    logits ~0.03 whatever the encoder produces, so no encoder adapter could lower the loss)."""
    from safetensors.torch import save_file

    sd = create_model("sam_vit_b", config="tiny").model.state_dict()
    for k in sd:
        if k.startswith("mask_decoder.output_hypernetworks_mlps.") and ".layers.2." in k:
            sd[k] = sd[k] * 30
    path = tmp_path_factory.mktemp("init") / "sam_tiny.safetensors"
    save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
    return str(path)


# losses ------------------------------------------------------------------------------------------

def test_focal_and_dice_match_numpy_reference():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(3, 1, 8, 8))
    target = rng.random((3, 1, 8, 8)) < 0.3
    p = 1 / (1 + np.exp(-logits))
    p_t = np.where(target, p, 1 - p)  # probability of the true class
    ref_focal = np.mean(0.25 * (1 - p_t) ** 2 * -np.log(p_t))
    pf, tf = p.reshape(3, -1), target.reshape(3, -1)
    ref_dice = np.mean(1 - (2 * (pf * tf).sum(1) + 1e-6) / (pf.sum(1) + tf.sum(1) + 1e-6))
    lt, tt = torch.tensor(logits), torch.tensor(target)
    assert float(focal_loss(lt, tt)) == pytest.approx(ref_focal, rel=1e-5)
    assert float(dice_loss(lt, tt)) == pytest.approx(ref_dice, rel=1e-5)
    assert float(dice_loss(torch.full((1, 1, 4, 4), 50.0), torch.ones(1, 1, 4, 4))) == pytest.approx(0, abs=1e-6)


# training forwards vs inference adapters --------------------------------------------------------

def test_robust_degraded_branch_equals_inference_adapter():
    model = create_model("robustsam_vit_b", config="tiny").model.eval()
    x = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(1))
    pts = (torch.tensor([[[30.0, 40.0], [70.0, 90.0]]]), torch.ones(1, 2, dtype=torch.int))
    with torch.no_grad():
        emb, interm = model.image_encoder.forward_interm(x)
        sparse, dense = model.prompt_encoder(points=pts, boxes=None, masks=None)
        pe = model.prompt_encoder.get_dense_pe()
        want, _ = model.mask_decoder.forward_robust(emb, interm, pe, sparse, dense)
        got, tokens, feats = model.mask_decoder.training_branch(emb, interm, pe, sparse, dense, clear=False)
        _, ctokens, cfeats = model.mask_decoder.training_branch(emb, interm, pe, sparse, dense, clear=True)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    assert tokens.shape == ctokens.shape == (1, 4, 64) and feats.shape == cfeats.shape == (1, 8, 32, 32)
    assert not torch.equal(feats, cfeats)  # the clear branch skips DNC/FGM and uses SAM's tokens


def test_gara_gates_without_noise_equal_inference_and_train_with_noise():
    model = create_model("gara_sam_vit_b", config="tiny").model
    with torch.no_grad():  # non-zero B so the adapters change the output
        for n, p in model.named_parameters():
            if n.endswith(("low_b", "high_b")):
                p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(2)) * 0.5)
    x = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        want = model.image_encoder(x)
        with gumbel_gates(model, 0.5, None):
            got = model.image_encoder(x)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    with gumbel_gates(model, 0.5, torch.Generator().manual_seed(4)):
        model.image_encoder(x).square().mean().backward()
    gate = model.image_encoder.blocks[0].attn.qkv.gate_low.weight
    assert gate.grad is not None and gate.grad.abs().sum() > 0  # straight-through reaches the gates
    assert model.image_encoder.blocks[0].attn.qkv.gumbel is None  # the inference gates are back


# data -------------------------------------------------------------------------------------------

def test_stream_from_a_position_equals_the_tail_of_a_full_stream(dataset):
    recipe = replace(recipe_for("gara-sam"), train_size=64)
    index = index_dataset(dataset)
    full = list(itertools.islice(stream(index, recipe, seed=5), 20))  # 2.5 epochs of 8 images
    tail = list(itertools.islice(stream(index, recipe, seed=5, start=11), 9))
    for a, b in zip(full[11:], tail):
        assert (a.image_id, a.split) == (b.image_id, b.split)
        assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
        assert (a.box is None) == (b.box is None) and np.array_equal(
            a.points if a.box is None else a.box, b.points if b.box is None else b.box)
    assert {it.image_id for it in full[:8]} == {it.image_id for it in full[8:16]}  # an epoch visits every image
    assert {it.box is None for it in full} == {True, False}  # GaRA-SAM: points and boxes
    for it in full:
        if it.points is not None:
            assert it.mask[it.points[:, 1].astype(int), it.points[:, 0].astype(int)].all()
    paired = list(itertools.islice(stream(index, replace(recipe_for("robustsam"), train_size=64), seed=5), 8))
    assert all(it.clear is not None and it.points.shape == (3, 2) and it.box is None for it in paired)


# training ---------------------------------------------------------------------------------------

def _fixed_loss(family, model, dataset):
    recipe = replace(RECIPES[family], train_size=64)
    items = list(itertools.islice(stream(index_dataset(dataset), recipe, seed=99), 8))
    with torch.no_grad():
        return float(training_loss(model.train(), items, recipe, None, "cpu").total)


@pytest.fixture(scope="module")
def trained(dataset, sam_init, tmp_path_factory):
    runs = {}
    for family, name in FAMILIES.items():
        out = tmp_path_factory.mktemp(f"run_{family}")
        res = train(name, dataset, out, steps=24, batch_size=4, lr=1e-2 if family == "gara_sam" else 1e-3,
                    init_checkpoint=sam_init, save_every=100, **TINY)
        runs[family] = res
    return runs


@pytest.mark.parametrize("family", FAMILIES)
def test_loss_falls_on_a_small_synthetic_set(family, trained, dataset, sam_init):
    res = trained[family]
    before = create_model(res.model, config="tiny").model
    recipe = RECIPES[family]
    load_init(before, sam_init, recipe)
    after = create_model(res.model, checkpoint=str(res.weights), config="tiny").model
    l0, l1 = _fixed_loss(family, before, dataset), _fixed_loss(family, after, dataset)
    assert l1 < 0.97 * l0, (family, l0, l1)
    with open(res.log) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == list(range(1, 25))
    assert all(float(r["images_per_s"]) > 0 and np.isfinite(float(r["loss"])) for r in rows)
    if family == "robustsam":
        assert float(rows[-1]["embedding"]) < float(rows[0]["embedding"])  # consistency term is trained


@pytest.mark.parametrize("family", FAMILIES)
def test_only_the_recipe_modules_change(family, trained, sam_init):
    res = trained[family]
    before = create_model(res.model, config="tiny").model
    load_init(before, sam_init, RECIPES[family])
    after = create_model(res.model, checkpoint=str(res.weights), config="tiny").model
    a, b = before.state_dict(), after.state_dict()
    changed = {k for k in a if not torch.equal(a[k], b[k])}
    assert changed and all(any(s in k for s in RECIPES[family].trainable) for k in changed)


@pytest.mark.parametrize("family", FAMILIES)
def test_saved_weights_load_through_registry_and_evaluate(family, trained, dataset, tmp_path):
    res = trained[family]
    model = create_model(res.model, checkpoint=str(res.weights), config="tiny")
    assert model.checkpoint_sha256 == sha256_file(res.weights)
    ev = evaluate(model, dataset, "box", tmp_path / "results")
    assert ev.rows == 3 * 41  # every object of the 3 splits (41 objects each)
    table = read_results(tmp_path / "results").to_pandas()
    assert (table["checkpoint_sha256"] == sha256_file(res.weights)).all()
    assert table["iou"].between(0, 1).all()


class Killed(Exception):
    pass


@pytest.mark.parametrize("family", FAMILIES)
def test_resume_after_kill_equals_uninterrupted_run(family, dataset, tmp_path):
    name = FAMILIES[family]
    kw = dict(steps=4, batch_size=2, grad_accum=2, lr=1e-3, save_every=2, **TINY)
    full = train(name, dataset, tmp_path / "full", **kw)

    def kill_at_3(log):
        if log.step == 3:
            raise Killed  # after step 3 ran and was logged, before any checkpoint of it

    with pytest.raises(Killed):
        train(name, dataset, tmp_path / "resumed", progress=kill_at_3, **kw)
    res = train(name, dataset, tmp_path / "resumed", **kw)
    assert res.start_step == 2
    logs = [list(csv.DictReader(open(r.log))) for r in (full, res)]
    assert [r["step"] for r in logs[1]] == ["1", "2", "3", "4"]  # the killed run's step-3 row was replaced
    for a, b in zip(*logs):
        assert (a["loss"], a["grad_norm"]) == (b["loss"], b["grad_norm"])
    from safetensors.torch import load_file

    wa, wb = load_file(str(full.weights)), load_file(str(res.weights))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_bfloat16_autocast_and_errors(dataset, tmp_path, sam_init):
    res = train("gara-sam", dataset, tmp_path / "bf16", steps=1, batch_size=2, dtype="bfloat16", **TINY)
    assert np.isfinite(res.last_loss)
    with pytest.raises(TrainConflictError, match="differs in: recipe"):
        train("gara-sam", dataset, tmp_path / "bf16", steps=2, batch_size=2, lr=5e-4, dtype="bfloat16", **TINY)
    with pytest.raises(TrainConflictError, match="already holds checkpoints"):
        train("gara-sam", dataset, tmp_path / "bf16", steps=2, batch_size=2, dtype="bfloat16", resume=False, **TINY)
    with pytest.raises(KeyError, match="no training recipe for model 'sam_vit_b'"):
        train("sam_vit_b", dataset, tmp_path / "x", steps=1, **TINY)
    robust_weights = str(train("robustsam", dataset, tmp_path / "rs", steps=1, batch_size=1, **TINY).weights)
    with pytest.raises(CheckpointError, match="unexpected keys"):  # RobustSAM weights are no GaRA-SAM init
        train("gara-sam", dataset, tmp_path / "y", steps=1, init_checkpoint=robust_weights, **TINY)


def test_every_default_names_its_source():
    for recipe in RECIPES.values():
        for key in ("trainable", "lr", "weight_decay", "batch_size", "train_size", "prompt", "focal_weight",
                    "dice_weight", "grad_clip"):
            assert recipe.sources.get(key), (recipe.family, key)
    assert recipe_for("gara_sam_vit_l").lr == 1e-5 and recipe_for("gara-sam").lr == 1e-4


@pytest.mark.parametrize("family", FAMILIES)
def test_with_official_sam_weights_exactly_the_new_modules_train(family, shared_dir):
    """Full ViT-B built on the meta device: the keys an official SAM checkpoint lacks are exactly the ones
    the recipe trains, so ``init_checkpoint=sam_vit_b_01ec64.pth`` freezes all of SAM and nothing else."""
    import json

    from baselines.sam import gara_sam, robustsam

    sam_keys = set(json.loads((shared_dir / "reference/state_dicts/sam_vit_b.json").read_text())["keys"])
    module = {"gara_sam": gara_sam, "robustsam": robustsam}[family]
    with torch.device("meta"):
        model = module.build_torch_model("vit_b")
    keys = set(model.state_dict())
    trained = {k for k in keys if any(s in k for s in RECIPES[family].trainable)}
    assert sam_keys <= keys and trained == keys - sam_keys
