"""SUM (and Vanilla) in HQ-SAM's architecture (``robustseg train sum-hq``, SUM Fig. 4 / Tables 10-13) on tiny
random-init models: only HQ-SAM's decoder additions train (SAM bit-identical), the loss falls with
uncertainty maps from a sum-refine module, the weights load through the registry and evaluate as HQ-SAM,
resume after a kill equals an uninterrupted run, misuse is one line exit 2."""
from __future__ import annotations

import csv
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from baselines import create_model  # noqa: E402
from baselines.contract import ModelArgumentError, Prompts  # noqa: E402
from baselines.sam.sum_training import weighted_pixels  # noqa: E402
from benchmark.train import RECIPES, recipe_for, train  # noqa: E402
from benchmark.train.loop import load_init  # noqa: E402
from benchmark.train.optim import set_lr  # noqa: E402
from benchmark.train.recipes import override_recipe  # noqa: E402
from benchmark.train.sum_hq_recipe import HQ_MODULES  # noqa: E402
from benchmark.train.sum_setup import prepare_sum  # noqa: E402
from .conftest import run_cli  # noqa: E402
from .test_train import Killed, dataset, one_thread, sam_init  # noqa: E402,F401  (shared fixtures)
from .test_train_sum import _fixed_loss  # noqa: E402  (the loss of a fixed 8-item batch, both kinds of image)

TINY = {"config": "tiny", "train_size": 64, "device": "cpu", "progress_bar": False}
OPEN = {"min_pred_iou": 0.0, "min_stability": 0.0, "refine_min_iou": 0.0}  # tiny SAMs fail SAM's filters
NAME = "sum_hq_sam_vit_h"


def _open(mp: pytest.MonkeyPatch) -> None:
    for fam in ("sum_hq", "sum_refine"):
        r = RECIPES[fam]
        mp.setitem(RECIPES, fam, replace(r, options={**r.options, **OPEN}))


@pytest.fixture(scope="module")
def runs(dataset, sam_init, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    _open(mp)
    try:
        ref = train("sum-refine", dataset, tmp_path_factory.mktemp("ref"), steps=4, batch_size=2, lr=1e-3,
                    init_checkpoint=sam_init, save_every=100, **TINY)
        hq = train("sum-hq", dataset, tmp_path_factory.mktemp("hq"), steps=16, batch_size=4, lr=1e-2,
                   init_checkpoint=sam_init, refiner_checkpoint=str(ref.weights), save_every=100, **TINY)
        yield {"ref": ref, "hq": hq, "recipe": RECIPES["sum_hq"]}
    finally:
        mp.undo()


def test_defaults_follow_the_official_hq_sam_arch_code_and_name_their_source():
    r = recipe_for("sum-hq")
    assert (r.family, r.trainable, r.optimizer, r.lr, r.weight_decay, r.num_points, r.options["rounds"]) == \
        ("sum_hq", HQ_MODULES, "adam", 1e-3, 0.0, 10, 1)
    assert (r.options["task_prompt"], r.options["labelled_task"], r.options["certainty_threshold"]) == ("first", 1, 0.5)
    assert recipe_for("sum_hq_sam_vit_b").family == "sum_hq"
    for key in ("trainable", "optimizer", "lr", "weight_decay", "schedule", "batch_size", "train_size", "prompt",
                "num_points", "focal_weight", "dice_weight", "iou_weight", "grad_clip", "unlabelled_fraction",
                "options.rounds", "options.certainty_threshold", "options.task_prompt", "options.uncertainty",
                "options.lr_drop_fraction", "length"):
        assert r.sources.get(key), key


def test_step_schedule_drops_once():
    r = RECIPES["sum_hq"]
    opt = torch.optim.Adam([{"params": [torch.nn.Parameter(torch.zeros(1))], "base_lr": r.lr}], lr=r.lr)
    rates = [set_lr(opt, r, s, 12) for s in range(1, 13)]
    assert rates == [1e-3] * 10 + [pytest.approx(1e-4)] * 2


def test_weighted_points_are_distinct_and_follow_the_weights():
    region = torch.ones(8, 8, dtype=torch.bool)
    weights = torch.zeros(8, 8)
    weights[1, :5] = 1.0
    pts = weighted_pixels(region, weights, 5, torch.Generator().manual_seed(0))
    assert sorted(pts) == [(x, 1) for x in range(5)]
    assert len(set(weighted_pixels(region, weights, 10, torch.Generator().manual_seed(0)))) == 10  # uniform


def test_only_hq_additions_train_and_loss_falls(runs, dataset, sam_init):
    from safetensors.torch import load_file

    recipe = runs["recipe"]
    before = create_model(NAME, config="tiny").model
    load_init(before, sam_init, recipe)
    prepare_sum(before, recipe, str(runs["ref"].weights))
    after = create_model(NAME, checkpoint=str(runs["hq"].weights), config="tiny").model
    h = before.sum_helpers
    after.attach_training(h.config, h.labeller, h.refiner)
    l0, l1 = _fixed_loss(before, recipe, dataset), _fixed_loss(after, recipe, dataset)
    assert l1 < 0.97 * l0, (l0, l1)
    sam, trained = load_file(sam_init), after.state_dict()
    assert all(torch.equal(sam[k], trained[k]) for k in sam)  # every SAM tensor bit-identical
    extra = set(trained) - set(sam)
    assert extra and all(k.startswith(HQ_MODULES) for k in extra)
    a = before.state_dict()
    unused = {"mask_decoder.task_prompt_tokens.2.weight", "mask_decoder.hf_type_tokens.2.weight"}  # entity type
    assert all(not torch.equal(a[k], trained[k]) for k in extra - unused if k.endswith(".weight"))  # each moved
    assert all(not trained[k].any() for k in unused)
    rows = list(csv.DictReader(open(runs["hq"].log)))
    assert [float(r["lr"]) for r in rows[:13]] == [1e-2] * 13 and float(rows[-1]["lr"]) == pytest.approx(1e-3)


def test_weights_load_through_registry_and_evaluate_as_hq_sam(runs, tmp_path):
    """The trained weights evaluate through sum_hq_sam (HQ token, K = 1); without task tokens (task=none)
    exactly as hq_sam on the same weights; the trained type-0 token changes the default answer."""
    from safetensors.torch import load_file, save_file

    sd = load_file(str(runs["hq"].weights))
    hq_only = tmp_path / "hq.safetensors"
    save_file({k: v for k, v in sd.items() if "task_prompt_tokens" not in k and "hf_type_tokens" not in k},
              str(hq_only))
    img = np.random.default_rng(1).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    prompts = Prompts(points=np.array([[[20.0, 20.0]]]), point_labels=np.array([[1]]))
    preds = {}
    for key, name, ckpt, kw in (("default", NAME, runs["hq"].weights, {}),
                                ("none", NAME, runs["hq"].weights, {"task": "none"}),
                                ("hq_sam", "hq_sam_vit_h", hq_only, {})):
        m = create_model(name, checkpoint=str(ckpt), config="tiny", **kw)
        m.set_image(img)
        preds[key] = m.predict(prompts, multimask=True).logits
    assert preds["default"].shape == (1, 1, 32, 32)
    assert np.array_equal(preds["none"], preds["hq_sam"])
    assert not np.array_equal(preds["default"], preds["none"])
    with pytest.raises(ModelArgumentError, match="unknown SUM-HQ task 'part'"):
        create_model(NAME, config="tiny", task="part")


def test_resume_after_kill_equals_uninterrupted_run(runs, dataset, sam_init, tmp_path, monkeypatch):
    _open(monkeypatch)
    kw = dict(steps=4, batch_size=2, lr=1e-2, save_every=2, init_checkpoint=sam_init,
              refiner_checkpoint=str(runs["ref"].weights), **TINY)
    full = train("sum-hq", dataset, tmp_path / "full", **kw)

    def kill_at_3(log):
        if log.step == 3:
            raise Killed

    with pytest.raises(Killed):
        train("sum-hq", dataset, tmp_path / "resumed", progress=kill_at_3, **kw)
    res = train("sum-hq", dataset, tmp_path / "resumed", **kw)
    assert res.start_step == 2
    logs = [list(csv.DictReader(open(r.log))) for r in (full, res)]
    assert [(a["loss"], a["grad_norm"], a["lr"]) for a in logs[0]] == [(b["loss"], b["grad_norm"], b["lr"])
                                                                      for b in logs[1]]
    from safetensors.torch import load_file

    wa, wb = load_file(str(full.weights)), load_file(str(res.weights))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_vanilla_options_and_task_prompt_refused():
    r = override_recipe(RECIPES["sum_hq"], {"uncertainty": "none", "prompt_sampling": "uniform", "task_prompt": "none"})
    assert (r.options["uncertainty"], r.options["prompt_sampling"], r.options["task_prompt"]) == \
        ("none", "uniform", "none")
    assert r.trainable == HQ_MODULES


@pytest.mark.parametrize("args, says", [
    (["sum-hq"], "training sum-hq needs --refiner"),
    (["sum-hq", "--recipe-option", "task_prompt=all"], "recipe option task_prompt=all: valid: first, none"),
    (["sum-hq", "--recipe-option", "labelled_task=3"], "recipe option labelled_task=3: valid: 1 (HQSeg-44K"),
    (["sum-hq", "--recipe-option", "uncertainty=none", "--recipe-option", "lr_drop_fraction=2.0"],
     "lr_drop_fraction in [0, 1]"),
])
def test_cli_misuse_is_one_line_exit_2(args, says, dataset, tmp_path):
    r = run_cli("train", *args, "--dataset", dataset, "--out", tmp_path / "run", "--config", "tiny",
                "--random-weights", "--steps", "1", "--batch-size", "1", "--train-size", "32")
    assert r.returncode == 2, r.stderr
    assert says in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_cli_vanilla_runs_without_refiner_and_refuses_a_non_refiner(runs, dataset, sam_init, tmp_path):
    common = ["--dataset", dataset, "--config", "tiny", "--init-checkpoint", sam_init, "--steps", "1",
              "--batch-size", "2", "--train-size", "32"]
    vanilla = ["--recipe-option", "uncertainty=none", "--recipe-option", "prompt_sampling=uniform",
               "--recipe-option", "task_prompt=none"]
    r = run_cli("train", "sum-hq", "--out", tmp_path / "van", *vanilla, *common)
    assert r.returncode == 0, r.stderr
    from safetensors.torch import load_file

    sd = load_file(str(tmp_path / "van" / f"{NAME}.safetensors"))
    tokens = [k for k in sd if "task_prompt_tokens" in k or "hf_type_tokens" in k]
    assert len(tokens) == 5 and not any(sd[k].any() for k in tokens)  # Vanilla adds no task token
    r = run_cli("train", "sum-hq", "--out", tmp_path / "bad", "--refiner", runs["hq"].weights, *common)
    assert r.returncode == 2 and "not a sum_refine run's weights" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_hq_sam_arch_row_runs_through_reproduce(tmp_path):
    """The "SUM (HQ-SAM arch., FT-Small)" row runs end to end on sum_hq_sam (tiny random init, synthetic
    stand-in data, results labelled random weights) and fills its single-output cells."""
    from benchmark.report.reproduce import get_suite, reproduce, synthetic_override

    s = get_suite("sum_vs_hq_sam_single_output")
    models = {"SUM (HQ-SAM arch., FT-Small)": "sum_hq_sam_vit_b"}
    path = reproduce(s.name, None, {}, tmp_path, random_weights=True, models=models, datasets=["coift", "big"],
                     model_kwargs={"sum_hq_sam_vit_b": {"config": "tiny"}},
                     dataset_override=synthetic_override(s, num_images=1))
    rows = [r for r in csv.DictReader(open(path)) if r["model"] in models and r["reproduced"]]
    assert {(r["dataset"], r["protocol"]) for r in rows} >= {("coift", "point/single"), ("big", "box@6/single")}
    assert all(r["our_model"].endswith("(random weights)") for r in rows)


def test_trained_model_decodes_through_the_hq_token_and_helpers_through_sam():
    """What training fits is what HQSamAdapter evaluates (the HQ token); the frozen initial copy answers as
    SAM (three outputs, SAM's mask tokens), so pseudo-labels are SAM's."""
    import copy

    from baselines.sam.hq_sam import HQSamAdapter
    from baselines.sam.sum_hq import SumHQAdapter
    from baselines.sam.configs import official

    from baselines.sam.sum_training import SumTrainingConfig

    model = create_model(NAME, config="tiny").model.eval()
    model.attach_training(SumTrainingConfig(), copy.deepcopy(model))
    with torch.no_grad():
        for emb in model.mask_decoder.hf_type_tokens:
            emb.weight.normal_(generator=torch.Generator().manual_seed(1))
    size = int(model.image_encoder.img_size)
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        feats = model._features(model, x)
        sparse, dense = model._embed(model.prompt_encoder, [(20.0, 24.0)], [1], None, None, 0, size)
        got, score = model._decode(model, feats, sparse, dense, False)
        want, want_score, _ = SumHQAdapter(model).decode({"embeddings": feats.emb, "interm": feats.interm},
                                                         sparse, dense, False)  # task 0, as the embed above
        plain, _, _ = HQSamAdapter(model).decode({"embeddings": feats.emb, "interm": feats.interm}, sparse, dense,
                                                 False)
        sam, _ = model._decode(copy.deepcopy(model), feats, sparse, dense, True)
        official_sam, _ = official.MaskDecoder.forward(model.mask_decoder, image_embeddings=feats.emb,
                                                       image_pe=model.prompt_encoder.get_dense_pe(),
                                                       sparse_prompt_embeddings=sparse,
                                                       dense_prompt_embeddings=dense, multimask_output=True)
    assert torch.equal(got, want) and torch.equal(score, want_score) and got.shape[1] == 1
    assert sam.shape[1] == 3 and torch.equal(sam, official_sam)
    assert not torch.allclose(got, sam[:, :1])  # the HQ token is not SAM's mask token
    assert not torch.allclose(got, plain)  # the task token (type 0) is added
