"""SUM's U2PL comparison row (SUM App. E.1) as ``robustseg train sum --recipe-option semisup=u2pl``, on tiny
random-init models and synthetic tensors: U2PL's contrastive loss equals a hand-computed value, the option
changes the loss weights and adds the contrastive term and nothing else, a tiny CLI run logs it (misuse of the
``semisup`` options: tests/test_sum_augseg.py)."""
from __future__ import annotations

import csv
import math

import pytest

torch = pytest.importorskip("torch")

from baselines.sam.sum_semisup import ContrastInputs, contrast_inputs  # noqa: E402
from baselines.sam.sum_training import SumTrainingConfig  # noqa: E402
from benchmark.train import RECIPES  # noqa: E402
from benchmark.train.recipes import override_recipe  # noqa: E402
from benchmark.train.sum_losses import sum_loss  # noqa: E402
from benchmark.train.u2pl_loss import u2pl_contrastive  # noqa: E402
from .conftest import run_cli  # noqa: E402
from .test_sum_variants import OPEN, _batch, sum_model, _outputs  # noqa: E402,F401  (shared fixtures)
from .test_train import dataset, sam_init  # noqa: E402,F401


def _cells(values):
    """(B=2, C=2, h=1, w=3) from per-cell 2-vectors, item-major."""
    return torch.tensor(values, dtype=torch.float32).reshape(2, 1, 3, 2).permute(0, 3, 1, 2).contiguous()


def _example():
    """Item 0 labelled (cells a, b, c), item 1 pseudo-labelled (d, e, f; f unreliable). Class 1: anchors a, d
    (equal student features), prototype mean(teacher a, d) = [1, 0], negative c (labelled background the
    teacher calls foreground, q1 = 0.7 > 0.5). Class 0: anchors b, e (c has q0 = 0.25 < 0.3), prototype
    mean(teacher b, c, e) = [0, 2], negative f (unreliable, the teacher's q0 = 0.4 < 0.5)."""
    student = _cells([[1, 0], [0, 1], [0.5, 0.5], [1, 0], [0, 1], [0.5, 0.5]])
    teacher = _cells([[1, 1], [0, 2], [0, 1], [1, -1], [0, 3], [1, 1]])
    label = torch.tensor([[[1, 0, 0]], [[1, 0, 1]]])
    prob = torch.tensor([[[0.9, 0.2, 0.75]], [[0.8, 0.1, 0.6]]])
    reliable = torch.tensor([[[True, True, True]], [[True, True, False]]])
    return ContrastInputs(student.requires_grad_(), teacher, label, prob, reliable, ~reliable | torch.tensor(
        [[[True] * 3], [[False] * 3]]), torch.tensor([True, False]))


def test_contrastive_loss_equals_hand_computed_value():
    ci = _example()
    assert ci.unreliable.tolist() == [[[True] * 3], [[False, False, True]]]  # labelled: every cell
    got = u2pl_contrastive(ci, torch.Generator().manual_seed(0))
    fg = math.log(1 + 50 * math.exp((0 - 1) / 0.5))  # cos(anchor, prototype) = 1, cos(anchor, c) = 0
    bg = math.log(1 + 50 * math.exp((1 / math.sqrt(2) - 1) / 0.5))  # cos(anchor, f) = 1 / sqrt 2
    assert float(got.detach()) == pytest.approx((fg + bg) / 2, rel=1e-5)
    got.backward()
    assert ci.student.grad.abs().sum() > 0 and ci.teacher.grad is None  # anchors only carry the gradient


def test_one_class_or_no_anchor_class_gives_zero():
    ci = _example()
    one = ContrastInputs(ci.student, ci.teacher, torch.ones_like(ci.label), ci.prob, ci.reliable, ci.unreliable,
                         ci.labelled)
    assert float(u2pl_contrastive(one).detach()) == 0.0  # U2PL: "only 1 or no semantic class" in the batch
    no_negative = ContrastInputs(ci.student, ci.teacher, ci.label, ci.prob, ci.reliable,
                                 torch.zeros_like(ci.unreliable), ci.labelled)
    assert float(u2pl_contrastive(no_negative).detach()) == 0.0  # classes without negatives are skipped


def test_contrast_inputs_split_by_certainty_and_drop_filtered_pseudo_labels():
    s = torch.full((4, 4), 2.0)
    c = torch.tensor([[0.9, 0.9, 0.5, 0.5]] * 4)
    t = torch.zeros(4, 4)
    t[:, :2] = 1
    ci = contrast_inputs(torch.zeros(3, 2, 2, 2), torch.zeros(3, 2, 2, 2), [t] * 3, [s] * 3,
                         [torch.ones(4, 4), c, c], [True, True, False], [False, True, True], theta=0.6)
    assert ci.reliable[0].all() and ci.unreliable[0].all()  # labelled: both
    assert ci.reliable[1].tolist() == [[True, False]] * 2 and ci.unreliable[1].tolist() == [[False, True]] * 2
    assert not ci.reliable[2].any() and not ci.unreliable[2].any()  # dropped by SAM's filters: ignored
    assert ci.label[1].tolist() == [[1, 0]] * 2  # nearest downsampling, as U2PL
    assert torch.allclose(ci.prob, torch.sigmoid(torch.tensor(2.0)).expand(3, 2, 2))
    assert ci.labelled.tolist() == [True, False, False]


def test_u2pl_option_changes_only_loss_weights_and_adds_contrast(sum_model):
    base = _outputs(sum_model, prompt_sampling="uniform")
    u2pl = _outputs(sum_model, prompt_sampling="uniform", semisup="u2pl")
    assert base.contrast is None and u2pl.contrast is not None
    assert torch.equal(base.targets, u2pl.targets)  # the same pseudo-labels (the teacher's extra draws come last)
    kept = (base.certainty.flatten(1).amax(1) > 0).float()[:, None, None, None]
    assert torch.equal(u2pl.certainty, kept.expand_as(base.certainty))  # standard losses on kept pseudo-labels
    assert float(base.certainty[base.certainty > 0].min()) < 1  # ...where SUM weights by its map
    ci, theta = u2pl.contrast, 0.6
    for i in (1, 3):  # the unlabelled items: reliable where SUM's map exceeds theta
        c = base.certainty[i, 0]
        down = torch.nn.functional.interpolate(c[None, None], size=ci.label.shape[-2:], mode="nearest")[0, 0]
        if bool((c > 0).any()):
            assert torch.equal(ci.reliable[i], down > theta) and torch.equal(ci.unreliable[i], down <= theta)
    recipe = override_recipe(RECIPES["sum"], {"semisup": "u2pl"})
    plain = sum_loss(RECIPES["sum"], u2pl.logits, u2pl.targets, u2pl.certainty, u2pl.iou_pred)
    got = sum_loss(recipe, u2pl.logits, u2pl.targets, u2pl.certainty, u2pl.iou_pred, ci, torch.Generator().manual_seed(3))
    con = u2pl_contrastive(ci, torch.Generator().manual_seed(3))
    assert got.contrast == pytest.approx(float(con)) and got.contrast > 0
    assert float(got.total) == pytest.approx(float(plain.total) + 1.0 * float(con), rel=1e-6)  # weight 1
    half = override_recipe(recipe, {"contrast_weight": 0.5})
    assert float(sum_loss(half, u2pl.logits, u2pl.targets, u2pl.certainty, u2pl.iou_pred, ci,
                          torch.Generator().manual_seed(3)).total) == pytest.approx(float(plain.total) + 0.5 * float(con),
                                                                                     rel=1e-6)


def test_recipe_option_and_sources():
    r = RECIPES["sum"]
    assert (r.options["semisup"], r.options["contrast_weight"]) == ("none", 1.0)
    assert "U2PL" in r.sources["options.semisup"] and "weight to be 1" in r.sources["options.contrast_weight"]
    with pytest.raises(ValueError, match="SUM option semisup='mean_teacher'; valid: none, u2pl"):
        SumTrainingConfig(semisup="mean_teacher")


def test_cli_u2pl_run_logs_the_contrastive_loss(dataset, sam_init, tmp_path):
    common = ["--dataset", dataset, "--config", "tiny", "--init-checkpoint", sam_init, "--steps", "2",
              "--batch-size", "2", "--train-size", "32"]
    r = run_cli("train", "sum-refine", "--out", tmp_path / "ref", *common)
    assert r.returncode == 0, r.stderr
    r = run_cli("train", "sum", "--out", tmp_path / "u2pl", "--refiner", tmp_path / "ref" / "sum_refine_vit_b.safetensors",
                "--recipe-option", "semisup=u2pl", "--recipe-option", "prompt_sampling=uniform", *common)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(open(tmp_path / "u2pl" / "log.csv")))
    assert len(rows) == 2 and all(math.isfinite(float(x["contrast"])) for x in rows)
    assert any(float(x["contrast"]) > 0 for x in rows)  # labelled cells alone give both classes
