"""RUAC's training recipe on tiny random-init SAM 2.1 models: the alignment loss against a numpy reference and
its stop-gradients, the closed-form uncertainty against Monte Carlo, the attack (identity at its start,
within its budgets, and trained through gradient reversal it raises the segmentation loss), loss falls on a
small synthetic set, resume after a kill equals an uninterrupted run, and the command line's misuse."""
from __future__ import annotations

import csv
import itertools
import json
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from baselines import create_model  # noqa: E402
from baselines.sam2.ruac_attack import DEFORM_EPSILON, attack  # noqa: E402
from baselines.sam2.ruac_train import analytic_uncertainty  # noqa: E402
from baselines.training import TrainingBatch  # noqa: E402
from benchmark.train import recipe_for, train  # noqa: E402
from benchmark.train.data import index_dataset, stream  # noqa: E402
from benchmark.train.forward import training_loss  # noqa: E402
from benchmark.train.losses import segmentation_loss  # noqa: E402
from benchmark.train.ruac_loss import alignment_loss  # noqa: E402

from .conftest import run_cli  # noqa: E402
from .killpoints import run_until  # noqa: E402
from .test_train import dataset, one_thread  # noqa: E402,F401  (the same fixtures: 8 synthetic images, 1 thread)

NAME = "ruac_sam2.1_hiera_b+"
TINY = {"config": "tiny", "train_size": 64, "device": "cpu", "progress_bar": False, "random_weights": True}
HEAD_LR = (("sam_mask_decoder.pixel_bndl.", 1e-2), ("style_attacker.", 1e-3), ("deform_attacker.", 1e-3))


def _items(dataset, n=8, seed=99):
    recipe = replace(recipe_for("ruac"), train_size=64)
    return recipe, list(itertools.islice(stream(index_dataset(dataset), recipe, seed=seed), n))


# the alignment loss ----------------------------------------------------------------------------

def test_alignment_loss_matches_numpy_and_stops_gradients_where_the_paper_says():
    rng = np.random.default_rng(0)
    logits, target = rng.normal(0, 2, (2, 8, 8)), (rng.random((2, 8, 8)) < 0.4).astype(float)
    us, ua = rng.random((2, 8, 8)), rng.random((2, 8, 8))
    e = np.abs(1 / (1 + np.exp(-logits)) - target)
    ref = np.mean(e * np.exp(-us) + (1 - e) * np.exp(us)) + 0.5 * np.mean(e * np.exp(-ua) + (1 - e) * np.exp(ua))
    lt, us_t, ua_t = (torch.tensor(a, requires_grad=True) for a in (logits, us, ua))
    loss = alignment_loss(lt, torch.tensor(target), us_t, ua_t, l2_weight=0.5)
    assert float(loss.detach()) == pytest.approx(ref, rel=1e-6)
    loss.backward()
    assert us_t.grad is None  # the sampled uncertainty is a weight only (sg[u])
    # u moves only through the mirror term: d/du = 0.5 * (-e exp(-u) + (1 - e) exp(u)) / n, down where e is high
    want = 0.5 * (-e * np.exp(-ua) + (1 - e) * np.exp(ua)) / e.size
    np.testing.assert_allclose(ua_t.grad.numpy(), want, rtol=1e-4, atol=1e-9)
    # the error moves only through L1, pushed down harder where u is low: d/de = exp(-u) - exp(u)
    p = 1 / (1 + np.exp(-logits))
    want_logit = (np.exp(-us) - np.exp(us)) * np.sign(p - target) * p * (1 - p) / e.size
    np.testing.assert_allclose(lt.grad.numpy(), want_logit, rtol=1e-4, atol=1e-9)  # float32 inside


def test_closed_form_uncertainty_ranks_pixels_as_monte_carlo_does():
    """RUAC's analytic uncertainty (variance propagation + MacKay) against 200-sample Monte Carlo on a random
    head: the paper reports Pearson > 0.90 for the trained model; a wrong variance or probit breaks this."""
    model = create_model(NAME, config="tiny", mc_samples=200).model
    bndl = model.sam_mask_decoder.pixel_bndl
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        z, k, w, k_w = bndl.posteriors(torch.randn(1, 16, 16, 32, generator=g), torch.randn(1, 4, 256, generator=g))
        closed = analytic_uncertainty(bndl, z, k, w, k_w).flatten().numpy()
        sampled = model.sam_mask_decoder.mc_uncertainty(z, k, w, k_w).flatten().numpy()
    assert ((0 <= closed) & (closed <= 1)).all()
    assert np.corrcoef(closed, sampled)[0, 1] > 0.8


def test_training_forward_at_the_posterior_means_equals_the_inference_decoder(dataset):
    """With the Weibull draws replaced by their means, the clean training logits are the inference path's
    token-0 logits for the same image and prompt (same preprocessing, prompt scaling and decoder inputs)."""
    from baselines.contract import Prompts

    adapter = create_model(NAME, config="tiny")
    model = adapter.model.train()
    model.sam_mask_decoder.pixel_bndl.sample = lambda mean, shape, u: mean
    _, items = _items(dataset, 4)
    assert {it.box is None for it in items} == {True, False}  # boxes and clicks
    got = model.training_outputs(_batch(items, adversarial=False), generator=torch.Generator().manual_seed(0)).logits
    for i, it in enumerate(items):
        adapter.set_image(it.image)
        prompts = Prompts(boxes=None if it.box is None else it.box[None].astype(np.float32),
                          points=None if it.points is None else it.points[None].astype(np.float32),
                          point_labels=None if it.points is None else np.ones((1, len(it.points)), np.int32))
        coords, labels = adapter._prompt_points(prompts, 1)
        sparse, dense = model.sam_prompt_encoder(coords, labels, None)
        with torch.no_grad():
            low, _, _ = model.sam_mask_decoder.predict_masks(
                adapter._features["image_embed"], model.sam_prompt_encoder.get_dense_pe(), sparse, dense,
                adapter._features["high_res"])
        want = torch.nn.functional.interpolate(low[:, :1], (64, 64), mode="bilinear", align_corners=False)
        torch.testing.assert_close(got[i:i + 1].detach(), want, rtol=1e-4, atol=1e-4)


# the attack ------------------------------------------------------------------------------------

def _batch(items, adversarial=True):
    return TrainingBatch([it.image for it in items], [it.points for it in items], [it.box for it in items], 64,
                         masks=[it.mask for it in items], adversarial=adversarial)


def _target(items):
    return torch.as_tensor(np.stack([it.mask for it in items]))[:, None].float()


def test_attack_starts_near_identity_and_stays_within_its_budget(dataset):
    model = create_model(NAME, config="tiny").model
    model.prepare_training()
    _, items = _items(dataset, 4)
    x = model.training_input([it.image for it in items])
    mask = torch.nn.functional.interpolate(torch.as_tensor(np.stack([it.mask for it in items]))[:, None].float(),
                                           (128, 128), mode="nearest")
    with torch.no_grad():
        feats = model.image_encoder(x)[2]
        adv, warped = attack(model.style_attacker, model.deform_attacker, feats, x, mask)
        assert (adv - x).abs().mean() < 0.02  # near-zero init: a weak attack at the start (official init)
        for p in itertools.chain(model.style_attacker.parameters(), model.deform_attacker.offset_net.parameters()):
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(3)) * 5)
        offsets = model.deform_attacker.offsets(feats, mask)
        adv, warped = attack(model.style_attacker, model.deform_attacker, feats, x, mask)
    assert offsets.abs().max() <= DEFORM_EPSILON * 128 / 8 + 1e-5  # eps feature pixels x 16 input pixels
    assert offsets.abs().max() > 0.5 and (adv - x).abs().mean() > 0.1
    assert adv.abs().max() <= 3.0 + 1e-5 and set(torch.unique(warped).tolist()) <= {0.0, 1.0}


def test_attackers_trained_through_gradient_reversal_raise_the_segmentation_loss(dataset):
    """One optimizer descends the recipe's adversarial loss; the attackers sit behind the gradient reversal,
    so their steps must raise the attacked images' segmentation loss (with the sign wrong, it falls)."""
    from benchmark.train.ruac_loss import adversarial_loss

    model = create_model(NAME, config="tiny").model.train()
    model.prepare_training()
    recipe, items = _items(dataset, 4)
    params = list(model.style_attacker.parameters()) + list(model.deform_attacker.offset_net.parameters())
    opt = torch.optim.Adam(params, lr=2e-2)

    def attacked_seg():  # the same Weibull draws every time: only the attack differs
        with torch.no_grad():
            out = model.training_outputs(_batch(items), generator=torch.Generator().manual_seed(7))
            return float(segmentation_loss(out.adversarial.logits, out.adversarial.target, recipe)[0]), \
                float(segmentation_loss(out.logits, _target(items), recipe)[0])

    before, clean = attacked_seg()
    for step in range(15):
        opt.zero_grad()
        out = model.training_outputs(_batch(items), generator=torch.Generator().manual_seed(100 + step))
        adversarial_loss(recipe, out.adversarial)[0].backward()
        opt.step()
    after, clean_after = attacked_seg()
    assert clean_after == clean  # only the attackers moved
    assert after > 1.1 * before, (before, after)


# training --------------------------------------------------------------------------------------

def test_loss_falls_on_a_small_synthetic_set_and_weights_load_through_the_registry(dataset, tmp_path):
    res = train("ruac", dataset, tmp_path / "run", steps=24, batch_size=4, save_every=100,
                recipe_overrides={"adversarial_from_epoch": 0, "lr_groups": HEAD_LR}, **TINY)
    recipe, items = _items(dataset)

    def fixed_loss(model):
        with torch.no_grad():
            return float(training_loss(model.train(), items, recipe.at_epoch(0), torch.Generator().manual_seed(5),
                                       "cpu").total)

    before = create_model(NAME, config="tiny").model
    after = create_model(NAME, config="tiny", checkpoint=str(res.weights)).model  # attackers' keys dropped
    l0, l1 = fixed_loss(before), fixed_loss(after)
    assert l1 < 0.8 * l0, (l0, l1)
    rows = list(csv.DictReader(open(res.log)))
    assert [int(r["step"]) for r in rows] == list(range(1, 25))
    assert all(float(r["adversarial"]) > 0 and float(r["alignment"]) > 0 for r in rows)
    lrs = [float(r["lr"]) for r in rows]  # the head's rate, cosine from 1e-2 towards 1e-3
    assert lrs[0] == pytest.approx(1e-2) and all(a > b for a, b in zip(lrs, lrs[1:])) and lrs[-1] > 1e-3
    a, b = before.state_dict(), after.state_dict()
    changed = {k for k in a if not torch.equal(a[k], b[k])}
    assert any(k.startswith("sam_mask_decoder.pixel_bndl.") for k in changed)
    assert not any(k.startswith(("image_encoder.", "sam_mask_decoder.output_hypernetworks_mlps.", "memory_"))
                   for k in changed)
    ident = json.loads((tmp_path / "run" / "train.json").read_text())
    assert ident["identity"]["schedule_steps"] == 24 and ident["sources"]["alignment_weight"]


class Killed(Exception):
    pass


def test_resume_after_kill_equals_uninterrupted_run_across_the_curriculum(dataset, tmp_path):
    """Steps 1-2 are clean-only (epoch 0), 3-4 adversarial (epoch 1): the kill after step 3 and the resume
    from the step-2 checkpoint cross the curriculum switch and the cosine schedule."""
    kw = dict(steps=4, batch_size=2, grad_accum=2, save_every=2, recipe_overrides={"adversarial_from_epoch": 1},
              **TINY)
    full = train("ruac", dataset, tmp_path / "full", **kw)

    def kill_at_3(log):
        if log.step == 3:
            raise Killed

    with pytest.raises(Killed):
        train("ruac", dataset, tmp_path / "resumed", progress=kill_at_3, **kw)
    res = train("ruac", dataset, tmp_path / "resumed", **kw)
    assert res.start_step == 2
    logs = [list(csv.DictReader(open(r.log))) for r in (full, res)]
    assert [r["step"] for r in logs[1]] == ["1", "2", "3", "4"]
    assert [float(r["adversarial"]) for r in logs[0]][:2] == [0.0, 0.0] and float(logs[0][2]["adversarial"]) > 0
    for a, b in zip(*logs):
        assert (a["loss"], a["grad_norm"], a["lr"], a["alignment"]) == (b["loss"], b["grad_norm"], b["lr"],
                                                                        b["alignment"])
    from safetensors.torch import load_file

    wa, wb = load_file(str(full.weights)), load_file(str(res.weights))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert any(k.startswith("style_attacker.") for k in wa)


def test_every_default_names_its_source_and_the_official_keys_leave_only_the_head_untrained(shared_dir):
    """Full size on the meta device: the keys a SAM 2.1 B+ checkpoint lacks are exactly the BNDL head's, and
    all of them train, so ``--init-checkpoint sam2.1_hiera_base_plus.pt`` starts the head from scratch."""
    from baselines.sam2 import ruac
    from benchmark.train.loop import _is_trainable

    recipe = recipe_for("ruac")
    for key in ("trainable", "frozen", "lr", "lr_groups", "weight_decay", "optimizer", "schedule", "batch_size",
                "train_size", "prompt", "num_points", "focal_weight", "dice_weight", "grad_clip", "seg_weight",
                "adversarial_weight", "alignment_weight", "alignment_l2_weight", "adversarial_from_epoch"):
        assert recipe.sources.get(key), key
    sam2_keys = set(json.loads((shared_dir / "reference/state_dicts/sam2_1_hiera_b_plus.json").read_text())["keys"])
    with torch.device("meta"):
        model = ruac.build_torch_model("hiera_b+")
    missing = set(model.state_dict()) - sam2_keys
    assert sam2_keys <= set(model.state_dict())  # nothing in the official file is unexpected
    assert missing and all(k.startswith("sam_mask_decoder.pixel_bndl.") for k in missing)
    assert all(_is_trainable(k, recipe) for k in missing)
    assert not any(_is_trainable(k, recipe) for k in model.state_dict() if k.startswith("image_encoder."))


def test_cli_sigkill_after_a_checkpoint_then_rerun_equals_an_uninterrupted_run(dataset, tmp_path):
    """A hard kill right after the step-2 checkpoint is published (chosen by state, not time); rerunning the
    command finishes with the uninterrupted run's weights and curves."""
    args = ["train", "ruac", "--dataset", dataset, "--config", "tiny", "--train-size", "64", "--steps", "4",
            "--batch-size", "2", "--save-every", "1", "--device", "cpu", "--random-weights",
            "--recipe-option", "adversarial_from_epoch=0"]
    assert run_cli(*args, "--out", tmp_path / "full").returncode == 0
    r = run_until("SIGKILL", "checkpoint", 2, [*args, "--out", tmp_path / "killed"])
    assert r.returncode == -9, r.stderr
    assert json.loads((tmp_path / "killed/checkpoints/latest.json").read_text())["step"] == 2
    r = run_cli(*args, "--out", tmp_path / "killed")
    assert r.returncode == 0, r.stderr
    weights = "ruac_sam2.1_hiera_b+.safetensors"
    assert (tmp_path / "full" / weights).read_bytes() == (tmp_path / "killed" / weights).read_bytes()
    curves = [[(row["loss"], row["adversarial"], row["alignment"]) for row in csv.DictReader(open(d / "log.csv"))]
              for d in (tmp_path / "full", tmp_path / "killed")]
    assert curves[0] == curves[1] and len(curves[0]) == 4


@pytest.mark.parametrize("extra,expected", [
    ([], "needs --init-checkpoint"),
    (["--init-checkpoint", "nope.safetensors"], "nope.safetensors"),
    (["--random-weights", "--recipe-option", "nope=1"], "recipe override 'nope': not a recipe field; valid: "),
    (["--random-weights", "--recipe-option", "alignment_weight=high"], "'high' is not a float"),
])
def test_cli_misuse_gives_one_line_and_exit_2(dataset, tmp_path, extra, expected):
    r = run_cli("train", "ruac", "--dataset", dataset, "--out", tmp_path / "run", "--config", "tiny", *extra)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 2 and len(lines) == 1 and expected in lines[0], r.stderr
