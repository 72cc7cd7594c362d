"""SUM's AugSeg comparison rows (SUM App. E.1, Tables 1 and 4) as ``robustseg train sum --recipe-option
semisup=augseg``, on tiny random-init models and synthetic data: the EMA rule, the strong augmentation, the
consistency loss against a hand-computed value, what each prompt / consistency variant produces, the teacher's
and the student's views, a run resumed after a kill equals an uninterrupted one (the teacher is checkpointed).
Misuse of the options and a CLI run: tests/test_sum_variants.py."""
from __future__ import annotations

import csv
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from baselines.sam import sum_augseg  # noqa: E402
from baselines.sam.augseg_aug import OPS, strong_augment  # noqa: E402
from baselines.sam.sum_augseg import ema_update, grid_points  # noqa: E402
from baselines.sam.sum_training import SumTrainingConfig  # noqa: E402
from benchmark.train import RECIPES  # noqa: E402
from benchmark.train.recipes import override_recipe  # noqa: E402
from benchmark.train.sum_losses import augseg_loss, sigmoid_focal, sum_loss  # noqa: E402
from .test_sum_variants import OPEN, _batch, _tiny_sum, resume_equals_uninterrupted  # noqa: E402
from .test_train import dataset, sam_init  # noqa: E402,F401

AUG = dict(semisup="augseg", task_prompt="none")


def _outputs(models, seed=0, **options):
    model, labeller, _ = models
    model.attach_training(SumTrainingConfig(**OPEN, **AUG, **options), labeller)
    with torch.no_grad():
        return model.training_outputs(_batch(), generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def models():
    return _tiny_sum()


def test_ema_follows_augseg_rule():
    student, teacher = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    with torch.no_grad():
        student.weight.fill_(1.0)
        teacher.weight.fill_(3.0)
    ema_update(teacher, student, 1, 0.999)  # step 1: d = min(1 - 1/1, 0.999) = 0, the teacher is the student
    assert torch.equal(teacher.weight, student.weight)
    with torch.no_grad():
        student.weight.fill_(5.0)
    ema_update(teacher, student, 4, 0.999)  # d = 0.75
    torch.testing.assert_close(teacher.weight, torch.full((1, 2), 0.75 * 1 + 0.25 * 5))
    ema_update(teacher, student, 10**6, 0.999)  # capped at ema_decay
    torch.testing.assert_close(teacher.weight, torch.full((1, 2), 0.999 * 2 + 0.001 * 5))


def test_strong_augmentation_draws_one_to_three_intensity_operations():
    img = np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    seen = set()
    for seed in range(40):
        out, ops = strong_augment(img, np.random.default_rng(seed))
        assert out.shape == img.shape and out.dtype == np.uint8 and 1 <= len(ops) <= 3 and set(ops) <= set(OPS)
        seen.add(len(ops))
        again, ops2 = strong_augment(img, np.random.default_rng(seed))
        assert ops == ops2 and np.array_equal(out, again)  # a function of the seed
    assert seen == {1, 2, 3}
    assert len(OPS) == 11 and "invert" not in OPS  # AugSeg's list (flag_using_wide=False): invert is defined, not listed


def test_grid_is_sams_cell_centres():
    assert grid_points(2, 8).tolist() == [[2.0, 2.0], [6.0, 2.0], [2.0, 6.0], [6.0, 6.0]]


def test_consistency_loss_equals_hand_computed_value():
    recipe = override_recipe(RECIPES["sum"], {"semisup": "augseg", "iou_weight": 0.0})
    logits = torch.tensor([[[[2.0, -1.0]]], [[[0.5, -3.0]]], [[[1.0, 1.0]]]])
    target = torch.tensor([[[[1.0, 0.0]]], [[[1.0, 0.0]]], [[[0.0, 1.0]]]])
    cert = torch.ones_like(target)
    cons = torch.tensor([False, True, True])
    got = augseg_loss(recipe, logits, target, cert, torch.zeros(3, 1), cons)

    def focal(x, t):  # alpha-balanced focal, gamma 2, per pixel
        p = 1 / (1 + math.exp(-x))
        pt = p if t else 1 - p
        return -math.log(pt) * (1 - pt) ** 2 * (0.25 if t else 0.75)

    def dice(xs, ts):
        ps = [1 / (1 + math.exp(-x)) for x in xs]
        return 1 - (2 * sum(p * t for p, t in zip(ps, ts)) + 1) / (sum(ps) + sum(ts) + 1)

    sup = 20 * (focal(2, 1) + focal(-1, 0)) / 2 + dice([2, -1], [1, 0])
    uns = 20 * (focal(0.5, 1) + focal(-3, 0) + focal(1, 0) + focal(1, 1)) / 4 + \
        (dice([0.5, -3], [1, 0]) + dice([1, 1], [0, 1])) / 2
    assert float(got.total) == pytest.approx(sup + 1.0 * uns, rel=1e-6)  # sup_loss + loss_weight x unsup_loss
    assert got.consistency == pytest.approx(uns, rel=1e-6) and got.focal == pytest.approx((focal(2, 1) + focal(-1, 0)) / 2)
    half = override_recipe(recipe, {"augseg_weight": 0.5})
    assert float(augseg_loss(half, logits, target, cert, torch.zeros(3, 1), cons).total) == pytest.approx(sup + 0.5 * uns)
    assert float(sigmoid_focal(torch.tensor([2.0]), torch.tensor([1.0]))) == pytest.approx(focal(2, 1))


@pytest.mark.parametrize("options, unlabelled_rows", [
    ({}, 2 * 3),  # Mixed-Prompt: per unlabelled item one consistency row per round
    ({"augseg_consistency": "multi"}, 2 * (3 + 2)),  # multi-consistency: three rows (tokens) for the first prompt
    ({"augseg_prompt": "box"}, 2 * 1),  # Box-Prompt: one single-prompt round
    ({"augseg_prompt": "grid", "augseg_grid_side": 2}, 2 * 4 * 3),  # Uniform Point-Prompt: 4 points x 3 tokens
])
def test_each_variant_makes_its_rows_and_labelled_rows_are_unchanged(models, options, unlabelled_rows):
    out = _outputs(models, **options)
    labelled = ~out.consistency
    assert int(out.consistency.sum()) == unlabelled_rows and int(labelled.sum()) == 2 * 3  # 2 labelled x 3 rounds
    batch = _batch()
    for k, row in enumerate(out.targets[labelled]):  # the labelled rows train against the ground truth
        assert torch.equal(row[0], torch.as_tensor(batch.masks[(0, 2)[k % 2]]).float())
    t = out.targets[out.consistency]
    assert bool(((t == 0) | (t == 1)).all())  # binarized teacher outputs


def test_teacher_sees_the_image_student_its_strong_augmentation(models, monkeypatch):
    seen = {}
    model = models[0]
    real = sum_augseg.strong_augment

    def spy(image, rng):
        out, ops = real(image, rng)
        seen.setdefault("strong", []).append(out)
        return out, ops

    monkeypatch.setattr(sum_augseg, "strong_augment", spy)
    encode = {}

    def record(name, enc):
        def f(x):
            encode.setdefault(name, []).append(x.detach().clone())
            return enc.__class__.forward(enc, x)
        return f

    out = _outputs(models)
    teacher = model.sum_helpers.teacher
    monkeypatch.setattr(teacher.image_encoder, "forward", record("teacher", teacher.image_encoder))
    monkeypatch.setattr(model.image_encoder, "forward", record("student", model.image_encoder))
    seen.clear()
    with torch.no_grad():
        again = model.training_outputs(_batch(), generator=torch.Generator().manual_seed(0))
    assert torch.equal(out.logits, again.logits)  # deterministic given the generator
    batch = _batch()
    weak = model.training_input([batch.images[1], batch.images[3]])
    assert torch.equal(encode["teacher"][0], weak)
    assert torch.equal(encode["student"][-1], model.training_input(seen["strong"]))
    assert not torch.equal(encode["student"][-1], weak)


def test_augseg_resume_after_kill_equals_uninterrupted_run(dataset, sam_init, tmp_path, monkeypatch):
    full, res = resume_equals_uninterrupted(dataset, sam_init, tmp_path, monkeypatch,
                                            {"semisup": "augseg", "task_prompt": "none", "augseg_prompt": "box"})
    logs = [list(csv.DictReader(open(x.log))) for x in (full, res)]
    assert [a["consistency"] for a in logs[0]] == [b["consistency"] for b in logs[1]]
    assert any(float(a["consistency"]) > 0 for a in logs[0])
    from safetensors.torch import load_file

    assert not any(k.startswith("teacher") for k in load_file(str(full.weights)))  # training state, not the model
    ck = load_file(str(next((tmp_path / "resumed" / "checkpoints").glob("step-*")) / "state.safetensors"))
    assert any(k.startswith("extra/teacher/") for k in ck) and int(ck["extra/teacher_steps"]) == 4


def test_u2pl_and_plain_sum_unchanged_by_augseg_code(models):
    """Plain SUM's options still give SUM's rows, no consistency marks (the AugSeg path is its own)."""
    model, labeller, refiner = models
    model.attach_training(SumTrainingConfig(**OPEN), labeller, refiner)
    assert model.sum_helpers.teacher is None and model.training_state() == {}
    with torch.no_grad():
        out = model.training_outputs(_batch(), generator=torch.Generator().manual_seed(0))
    assert out.consistency is None
    assert float(sum_loss(RECIPES["sum"], out.logits, out.targets, out.certainty, out.iou_pred).total) > 0
