"""The SUM paper's ablation rows as options of ``robustseg train sum`` (Table 2, Fig. 5 / Table 1, App. F.2),
the adapter's Continuous-TP inference and SAM + mask-refinement module (Table 3), on tiny random-init models:
each option changes what it should and nothing else, misuse is one line exit 2, a variant run resumes
bit-exactly."""
from __future__ import annotations

import copy
import csv
import json
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from baselines import create_model  # noqa: E402
from baselines.checkpoints import CheckpointError  # noqa: E402
from baselines.contract import ModelArgumentError, Prompts  # noqa: E402
from baselines.sam import sum_training as st  # noqa: E402
from baselines.sam.sum_training import SumTrainingConfig, box_of, certainty_map  # noqa: E402
from baselines.training import TrainingBatch  # noqa: E402
from benchmark.errors import UsageError  # noqa: E402
from benchmark.train import RECIPES, train  # noqa: E402
from benchmark.train.recipes import override_recipe  # noqa: E402
from benchmark.train.sum_losses import sigmoid_focal, sum_loss  # noqa: E402
from .conftest import run_cli  # noqa: E402
from .test_train import Killed, dataset, one_thread, sam_init  # noqa: E402,F401  (shared fixtures)

OPEN = dict(min_pred_iou=0.0, min_stability=0.0, max_area=1.01, rounds=3)  # tiny SAMs fail SAM's filters
SIZE = 64


def _tiny_sum():
    """A tiny SUM whose mask head is scaled up (as test_train's sam_init) so pseudo-labels are not empty, a
    frozen copy as labeller and a perturbed copy as refinement module (r != s)."""
    model = create_model("sum_vit_b", config="tiny").model
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for k, p in model.named_parameters():
            if k.startswith("mask_decoder.output_hypernetworks_mlps.") and ".layers.2." in k:
                p.mul_(30)
        refiner = copy.deepcopy(model)
        for p in refiner.mask_decoder.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=gen))
    return model, copy.deepcopy(model), refiner


def _batch():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8) for _ in range(4)]
    masks = []
    for i in range(4):
        m = np.zeros((SIZE, SIZE), bool)
        m[8 + 4 * i:40 + 2 * i, 10:44 - 3 * i] = True
        masks.append(m)
    points = [np.array([[20.0, 20.0]]), None, np.array([[25.0, 22.0]]), None]
    return TrainingBatch(images, points, [None] * 4, SIZE, masks=masks, unlabelled=[False, True, False, True])


@pytest.fixture(scope="module")
def sum_model():
    return _tiny_sum()


def _outputs(sum_model, seed=0, **options):
    model, labeller, refiner = sum_model
    model.attach_training(SumTrainingConfig(**OPEN, **options), labeller, refiner)
    with torch.no_grad():
        return model.training_outputs(_batch(), generator=torch.Generator().manual_seed(seed))


def _pseudo(sum_model, seed=0):
    """Per unlabelled item: SAM's pseudo-label logits s, the module's r, the box answer b, kept by the filters
    (the same draws as the training forward, which draws the pseudo-label clicks first)."""
    model, labeller, refiner = sum_model
    model.attach_training(SumTrainingConfig(**OPEN), labeller, refiner)
    batch, gen = _batch(), torch.Generator().manual_seed(seed)
    x = model.training_input(batch.images)
    out = {}
    with torch.no_grad():
        emb = labeller.image_encoder(x[[1, 3]])
        for j, i in enumerate((1, 3)):
            gt = torch.as_tensor(batch.masks[i]).bool()
            click, low, s, keep, _ = model._pseudo_label(emb[j:j + 1], gt, SIZE, gen, by_gt=False)
            r = model._refined(refiner, emb[j:j + 1], click, low, s, SIZE)
            out[i] = (s, r, model._box_answer(labeller, emb[j:j + 1], s, SIZE), keep)
    assert any(v[3] for v in out.values())  # some pseudo-label survives the (opened) filters
    return out


# the uncertainty maps and pseudo-labels -------------------------------------------------------------

def test_certainty_maps_equal_hand_computed_values():
    s = torch.tensor([[-2.0, 0.0], [1.0, 3.0]])
    r = torch.tensor([[2.0, 0.0], [-1.0, 3.0]])
    sig = {-2.0: 0.11920292, 0.0: 0.5, 1.0: 0.73105858, 2.0: 0.88079708, 3.0: 0.95257413, -1.0: 0.26894142}
    conf = torch.tensor([[1 - sig[-2.0], 0.5], [sig[1.0], sig[3.0]]])  # max(p, 1 - p)
    torch.testing.assert_close(certainty_map("confidence", s), conf)
    eq3 = torch.tensor([[1 - (sig[2.0] - sig[-2.0]), 1.0], [1 - (sig[1.0] - sig[-1.0]), 1.0]])
    torch.testing.assert_close(certainty_map("refiner", s, r=r), eq3)
    torch.testing.assert_close(certainty_map("discrepancy", s, b=r), eq3)  # Eq. 3 with the second prediction
    assert torch.equal(certainty_map("none", s), torch.ones_like(s))
    with pytest.raises(ValueError, match="unknown SUM uncertainty 'x'"):
        certainty_map("x", s)


@pytest.mark.parametrize("options, target, cert", [
    ({}, "s", lambda s, r, b: 1 - (torch.sigmoid(s) - torch.sigmoid(r)).abs()),  # SUM (Eq. 3)
    ({"uncertainty": "confidence"}, "s", lambda s, r, b: torch.maximum(torch.sigmoid(s), 1 - torch.sigmoid(s))),
    ({"uncertainty": "discrepancy"}, "s", lambda s, r, b: 1 - (torch.sigmoid(s) - torch.sigmoid(b)).abs()),
    ({"uncertainty": "none"}, "s", lambda s, r, b: torch.ones_like(s)),  # Vanilla
    ({"uncertainty": "none", "pseudo_label": "refined"}, "r", lambda s, r, b: torch.ones_like(s)),  # Mask Refinement
])
def test_each_variant_changes_only_its_targets_or_certainty(sum_model, options, target, cert):
    want = _pseudo(sum_model)
    out = _outputs(sum_model, **options)
    batch = _batch()
    for i in range(4):
        t, c = out.targets[i, 0], out.certainty[i, 0]
        if i not in want:  # labelled: the ground truth, certainty 1, whatever the variant
            assert torch.equal(t, torch.as_tensor(batch.masks[i]).float()) and bool((c == 1).all())
            continue
        s, r, b, keep = want[i]
        assert torch.equal(t, ((s if target == "s" else r) > 0).float())
        torch.testing.assert_close(c, cert(s, r, b) if keep else torch.zeros_like(s))
    if not options:  # the refiner's map is a real uncertainty map (so the variants above differ from it)
        kept = [i for i in want if want[i][3]]
        assert float(out.certainty[kept].min()) < 1


def test_vanilla_loss_is_plain_focal_plus_dice_on_pseudo_labels(sum_model):
    recipe = override_recipe(RECIPES["sum"], {"uncertainty": "none", "task_prompt": "none",
                                              "prompt_sampling": "uniform"})
    out = _outputs(sum_model, **{k: recipe.options[k] for k in ("uncertainty", "task_prompt", "prompt_sampling")})
    live = [i for i in range(len(out.logits)) if bool((out.certainty[i] == 1).all())]
    assert any(i % 4 in (1, 3) for i in live)  # pseudo-labelled items among them
    logits, t = out.logits[live].double(), out.targets[live].double()
    p = torch.sigmoid(logits).flatten(1)
    dice = (1 - (2 * (p * t.flatten(1)).sum(1) + 1) / (p.sum(1) + t.flatten(1).sum(1) + 1)).mean()
    want = 20 * sigmoid_focal(logits, t).mean() + dice
    got = sum_loss(recipe, out.logits[live], out.targets[live], out.certainty[live]).total
    assert float(got) == pytest.approx(float(want), rel=1e-5)


@pytest.mark.parametrize("mode, tasks", [
    ("first", [2, 0, 2, 0] + [0] * 8),  # SUM: the labelled task prompt (entity, 2) in the first round only
    ("all", [2, 0, 2, 0] * 3),  # Continuous TP; unlabelled items keep 0
    ("none", [0] * 12),  # w/o Task Prompt, Vanilla
])
def test_task_prompt_rounds(sum_model, mode, tasks, monkeypatch):
    model = sum_model[0]
    seen, embed = [], model._embed

    def spy(encoder, points, labels, box, mask_in, task, size):
        if encoder is model.prompt_encoder:
            seen.append(task)
        return embed(encoder, points, labels, box, mask_in, task, size)

    monkeypatch.setattr(model, "_embed", spy)
    _outputs(sum_model, task_prompt=mode)
    assert seen == tasks


@pytest.mark.parametrize("mode", ["certainty", "uniform"])
def test_prompt_sampling_by_certainty_or_uniform(sum_model, mode, monkeypatch):
    weights, draw = [], st.weighted_pixel

    def spy(region, w, generator):
        weights.append(w.clone())
        return draw(region, w, generator)

    monkeypatch.setattr(st, "weighted_pixel", spy)
    _outputs(sum_model, prompt_sampling=mode)
    assert len(weights) > 2
    if mode == "uniform":  # every draw uniform over its region (App. F.2 "w/o uncertainty sampling")
        assert all(bool((w == 1).all()) for w in weights)
    else:  # the unlabelled items' prompts follow their certainty map
        assert any(float(w.min()) < 1 for w in weights)


# recipe options and CLI ----------------------------------------------------------------------------

def test_recipe_options_validate_and_record_their_source():
    r = override_recipe(RECIPES["sum"], {"uncertainty": "confidence", "prompt_sampling": "uniform"})
    assert (r.options["uncertainty"], r.options["prompt_sampling"], r.options["task_prompt"]) == \
        ("confidence", "uniform", "first")
    assert RECIPES["sum"].options["uncertainty"] == "refiner"  # the default recipe is untouched
    for key in ("pseudo_label", "uncertainty", "prompt_sampling", "task_prompt"):
        assert RECIPES["sum"].sources[f"options.{key}"]
    with pytest.raises(UsageError, match=r"recipe option uncertainty=bogus: valid: refiner, confidence, "
                                         r"discrepancy, none$"):
        override_recipe(RECIPES["sum"], {"uncertainty": "bogus"})
    with pytest.raises(UsageError, match="'stage': not a recipe field"):
        override_recipe(RECIPES["sum"], {"stage": "refine"})
    with pytest.raises(UsageError, match="'uncertainty': not a recipe field"):
        override_recipe(RECIPES["sum_refine"], {"uncertainty": "none"})
    with pytest.raises(UsageError, match="'rounds': 2.5 is not a int"):
        override_recipe(RECIPES["sum"], {"rounds": 2.5})


@pytest.mark.parametrize("args, says", [
    (["sum", "--recipe-option", "uncertainty=bogus"], "recipe option uncertainty=bogus: valid: refiner, "),
    (["sum", "--recipe-option", "task_prompt=2"], "recipe override 'task_prompt': 2 is not a str"),
    (["sum-refine", "--recipe-option", "pseudo_label=refined"], "recipe override 'pseudo_label': not a recipe"),
    (["sum", "--recipe-option", "semisup=bogus"], "recipe option semisup=bogus: valid: none, u2pl, augseg"),
    (["sum", "--recipe-option", "contrast_weight=heavy"], "recipe override 'contrast_weight': 'heavy' is not a float"),
    (["sum", "--recipe-option", "augseg_prompt=points"], "recipe option augseg_prompt=points: valid: mixed, box, grid"),
    (["sum", "--recipe-option", "augseg_consistency=all"], "recipe option augseg_consistency=all: valid: best, multi"),
    (["sum", "--recipe-option", "augseg_grid_side=1.5"], "recipe override 'augseg_grid_side': 1.5 is not a int"),
    (["sum", "--recipe-option", "lr=nan"], "recipe option lr=nan: must be a finite number >= 0"),
    (["sum", "--recipe-option", "focal_weight=-1"], "recipe option focal_weight=-1: must be a finite number >= 0"),
    (["sum", "--recipe-option", "rounds=0"], "recipe option rounds=0: must be > 0"),
    (["sum", "--recipe-option", "certainty_threshold=1.5"], "recipe option certainty_threshold=1.5: must be at most 1"),
    (["sum", "--recipe-option", "num_points=5000"], "recipe option num_points=5000: must be at most 1024"),
])
def test_cli_bad_variant_option_is_one_line_exit_2(args, says, dataset, tmp_path):
    r = run_cli("train", *args, "--dataset", dataset, "--out", tmp_path / "run", "--config", "tiny",
                "--random-weights", "--steps", "1", "--batch-size", "1", "--train-size", "32")
    assert r.returncode == 2, r.stderr
    assert says in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.parametrize("options, why", [
    (["uncertainty=none", "task_prompt=none", "prompt_sampling=uniform"], "uncertainty=none"),  # Vanilla
    (["semisup=augseg", "task_prompt=none", "augseg_prompt=box"], "semisup=augseg trains against its EMA teacher"),
])
def test_cli_vanilla_and_augseg_need_no_refiner_and_refuse_one(options, why, dataset, sam_init, tmp_path):
    common = ["--dataset", dataset, "--config", "tiny", "--init-checkpoint", sam_init, "--steps", "1",
              "--batch-size", "1", "--train-size", "32"] + [x for o in options for x in ("--recipe-option", o)]
    r = run_cli("train", "sum", "--out", tmp_path / "bad", "--refiner", sam_init, *common)
    assert r.returncode == 2 and f"--refiner is not read by this train sum run: {why}" in r.stderr, r.stderr
    r = run_cli("train", "sum", "--out", tmp_path / "run", *common)
    assert r.returncode == 0, r.stderr
    ident = json.dumps(json.loads((tmp_path / "run" / "train.json").read_text()))
    assert all('"%s": "%s"' % tuple(o.split("=")) in ident for o in options)


def resume_equals_uninterrupted(dataset, sam_init, tmp_path, monkeypatch, overrides: dict):
    """Train a variant 4 steps, and again killed after step 3 and resumed from step 2: logs and weights equal.
    Returns (uninterrupted, resumed) results."""
    r = RECIPES["sum"]
    monkeypatch.setitem(RECIPES, "sum", replace(r, options={**r.options, **OPEN}))
    kw = dict(steps=4, batch_size=2, lr=1e-3, save_every=2, init_checkpoint=sam_init, config="tiny",
              train_size=SIZE, device="cpu", progress_bar=False, recipe_overrides=overrides)
    full = train("sum", dataset, tmp_path / "full", **kw)

    def kill_at_3(log):
        if log.step == 3:
            raise Killed

    with pytest.raises(Killed):
        train("sum", dataset, tmp_path / "resumed", progress=kill_at_3, **kw)
    res = train("sum", dataset, tmp_path / "resumed", **kw)
    assert res.start_step == 2
    logs = [list(csv.DictReader(open(x.log))) for x in (full, res)]
    assert [(a["loss"], a["grad_norm"]) for a in logs[0]] == [(b["loss"], b["grad_norm"]) for b in logs[1]]
    from safetensors.torch import load_file

    wa, wb = load_file(str(full.weights)), load_file(str(res.weights))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    return full, res


def test_confidence_variant_resume_after_kill_equals_uninterrupted_run(dataset, sam_init, tmp_path, monkeypatch):
    resume_equals_uninterrupted(dataset, sam_init, tmp_path, monkeypatch, {"uncertainty": "confidence"})


# inference: Continuous TP, SAM + mask-refinement module ---------------------------------------------

def test_continuous_task_prompt_at_inference():
    img = np.random.default_rng(1).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    prompts = Prompts(points=np.array([[[20.0, 20.0]]]), point_labels=np.array([[1]]))
    preds = {}
    for rounds in ("first", "all"):
        m = create_model("sum_vit_b", config="tiny", task="entity", task_rounds=rounds)
        with torch.no_grad():
            m.model.prompt_encoder.task_prompt_embedding[2].weight.normal_(generator=torch.Generator().manual_seed(0))
        m.set_image(img)
        first = m.predict(prompts, multimask=True)
        second = m.predict(replace(prompts, mask_inputs=first.logits[:, :1]))
        preds[rounds] = (first.logits, second.logits)
    assert np.array_equal(preds["first"][0], preds["all"][0])  # round 1: the task prompt either way
    assert not np.array_equal(preds["first"][1], preds["all"][1])  # later rounds: only with task_rounds=all
    with pytest.raises(ModelArgumentError, match="unknown SUM task_rounds 'every'"):
        create_model("sum_vit_b", config="tiny", task_rounds="every")


def test_sam_then_refinement_module(tmp_path):
    from safetensors.torch import save_file

    sam = create_model("sam_vit_b", config="tiny")
    _, _, module = _tiny_sum()
    module.image_encoder.load_state_dict(sam.model.image_encoder.state_dict())  # as sum-refine keeps it
    files = {"sam": tmp_path / "sam.safetensors", "ref": tmp_path / "ref.safetensors"}
    save_file({k: v.contiguous() for k, v in sam.model.state_dict().items()}, str(files["sam"]))
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(files["ref"]))
    m = create_model("sum_refined_sam_vit_b", checkpoint=f"{files['ref']},{files['sam']}", config="tiny")
    img = np.random.default_rng(2).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    box = Prompts(boxes=np.array([[8.0, 6.0, 40.0, 30.0]]))
    m.set_image(img)
    sam.set_image(img)
    got, plain = m.predict(box, multimask=True), sam.predict(box, multimask=True)
    assert got.logits.shape == plain.logits.shape == (1, 3, 32, 32)
    assert not np.allclose(got.logits, plain.logits)
    with torch.no_grad():  # output k: the module given SAM's logits k and the box around SAM's mask k
        for k in range(3):
            low = torch.as_tensor(plain.logits[:, k:k + 1])
            big = torch.nn.functional.interpolate(low, (sam.img_size,) * 2, mode="bilinear", align_corners=False)
            sp, de = module.prompt_encoder(None, box_of(big[0, 0] > 0)[None], low)
            out, iou = module.mask_decoder(image_embeddings=m._features["embeddings"],
                                           image_pe=module.prompt_encoder.get_dense_pe(), sparse_prompt_embeddings=sp,
                                           dense_prompt_embeddings=de, multimask_output=False)
            np.testing.assert_allclose(got.logits[0, k], out[0, 0].numpy(), atol=1e-5)
            assert got.scores[0, k] == pytest.approx(float(iou[0, 0]), abs=1e-6)
    other = tmp_path / "other.safetensors"
    sd = module.state_dict()
    key = next(k for k in sd if k.startswith("image_encoder."))
    save_file({k: (v + 1 if k == key else v).contiguous() for k, v in sd.items()}, str(other))
    with pytest.raises(CheckpointError, match="image encoder differs from"):
        create_model("sum_refined_sam_vit_b", checkpoint=f"{other},{files['sam']}", config="tiny")


def test_table3_row_runs_through_reproduce(tmp_path):
    """The "SAM + mask-refinement module" row runs end to end (tiny random init, synthetic stand-in data,
    results labelled random weights) and fills its cells next to SAM's."""
    from benchmark.report.reproduce import get_suite, reproduce, synthetic_override

    s = get_suite("sum_mask_refinement_box")
    models = {"SAM": "sam_vit_b", "SAM + mask-refinement module": "sum_refined_sam_vit_b"}
    salient = ["coift", "dis_vd", "hrsod", "thinobject5k", "big", "voceval"]  # Table 3 prints averages only
    path = reproduce(s.name, None, {}, tmp_path, random_weights=True, models=models, datasets=salient,
                     model_kwargs={m: {"config": "tiny"} for m in models.values()},
                     dataset_override=synthetic_override(s, num_images=1))
    rows = [r for r in csv.DictReader(open(path)) if r["dataset"] == "sum_salient" and r["reproduced"]]
    got = {(r["model"], r["metric"]): float(r["reproduced"]) for r in rows}
    assert set(got) == {(m, k) for m in models for k in ("mIoU", "mBIoU")}
    assert all(r["our_model"].endswith("(random weights)") for r in rows)
