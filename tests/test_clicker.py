"""The interactive clicker with fake models whose answers are worked out by hand, and NoC."""
import numpy as np
import pytest

from baselines.contract import ModelOutputError, Prediction
from benchmark.eval.clicker import Click, next_click, noc, noc_summary, run_interactive
from benchmark.eval.protocols import farthest_point


def square(shape, y0, y1, x0, x1):
    m = np.zeros(shape, bool)
    m[y0:y1, x0:x1] = True
    return m


def one(mask, score=1.0, logits=None):
    return Prediction(masks=mask[None, None], scores=np.array([[score]], np.float32), logits=logits)


def test_first_click_is_the_farthest_point_and_positive():
    gt = square((13, 13), 2, 11, 2, 11)
    c = next_click(gt, np.zeros_like(gt))
    assert c == Click(6, 6, True) and [c.x, c.y] == farthest_point(gt).tolist()


def test_perfect_model_stops_and_repeats():
    gt = square((16, 16), 3, 9, 4, 12)
    rounds = run_interactive(lambda p, mm: one(gt), gt, max_clicks=5)
    assert [r.round for r in rounds] == [1, 2, 3, 4, 5]
    assert all(r.iou == 1.0 and r.boundary_iou == 1.0 for r in rounds)
    assert noc([r.iou for r in rounds], 0.9) == 1


def test_positive_clicks_on_a_growing_prediction():
    """The model paints a 3x3 square around each positive click. GT is a 9x9 square (rows/cols 2..10);
    after the centre click the false negatives form a ring of width 3 whose deepest pixels are at
    distance 2 (row 3 and column 3); the first of them in row-major order is (x=3, y=3)."""
    gt = square((13, 13), 2, 11, 2, 11)

    def model(prompts, multimask):
        m = np.zeros_like(gt)
        for (x, y), lab in zip(prompts.points[0].astype(int), prompts.point_labels[0]):
            if lab == 1:
                m[y - 1:y + 2, x - 1:x + 2] = True
        return one(m)

    rounds = run_interactive(model, gt, max_clicks=2)
    assert [r.click for r in rounds] == [Click(6, 6, True), Click(3, 3, True)]
    assert rounds[0].iou == pytest.approx(9 / 81) and rounds[1].iou == pytest.approx(18 / 81)


def test_negative_click_removes_a_false_positive_blob():
    gt = square((20, 20), 10, 18, 10, 18)
    blob = square((20, 20), 1, 6, 1, 6)

    def model(prompts, multimask):
        neg = [(x, y) for (x, y), lab in zip(prompts.points[0].astype(int), prompts.point_labels[0]) if lab == 0]
        return one(gt if any(blob[y, x] for x, y in neg) else gt | blob)

    rounds = run_interactive(model, gt, max_clicks=4)
    assert rounds[0].click == Click(13, 13, True) and rounds[0].iou == pytest.approx(64 / 89)
    assert rounds[1].click == Click(3, 3, False) and rounds[1].iou == 1.0
    assert [r.iou for r in rounds[2:]] == [1.0, 1.0]
    assert noc([r.iou for r in rounds], 0.85) == 2


def test_choice_by_score_vs_oracle_and_logits_fed_back():
    gt = square((12, 12), 2, 8, 2, 8)
    wrong = square((12, 12), 0, 12, 0, 12)
    seen = []

    def model(prompts, multimask):
        seen.append(prompts.mask_inputs)
        masks = np.stack([wrong, gt, gt & ~square((12, 12), 2, 3, 2, 8)])[None]
        logits = np.stack([np.full((4, 4), v, np.float32) for v in (10.0, 20.0, 30.0)])[None]
        return Prediction(masks=masks, scores=np.array([[0.9, 0.1, 0.5]], np.float32), logits=logits)

    by_score = run_interactive(model, gt, max_clicks=2, multimask=True)
    assert [r.candidate for r in by_score] == [0, 0] and by_score[0].iou == pytest.approx(36 / 144)
    assert seen[0] is None and seen[1].shape == (1, 1, 4, 4) and (seen[1] == 10.0).all()
    assert by_score[1].click.positive is False  # the full-image mask has only false positives
    seen.clear()
    oracle = run_interactive(model, gt, max_clicks=2, multimask=True, oracle=True)
    assert oracle[0].candidate == 1 and oracle[0].iou == 1.0 and oracle[0].score == pytest.approx(0.1)
    assert len(oracle) == 2 and len(seen) == 1  # nothing left to click: round 2 repeats round 1


def test_stop_iou_and_contract_errors():
    gt = square((10, 10), 2, 8, 2, 8)
    assert len(run_interactive(lambda p, mm: one(gt), gt, max_clicks=20, stop_iou=0.9)) == 1
    with pytest.raises(ModelOutputError, match="round 1"):
        run_interactive(lambda p, mm: one(gt[:5]), gt, where="img 3 obj 1")
    with pytest.raises(ValueError, match="non-empty"):
        run_interactive(lambda p, mm: one(gt), np.zeros_like(gt))


def test_noc_and_summary():
    assert noc([0.5, 0.86, 0.91], 0.85) == 2 and noc([0.5, 0.86, 0.91], 0.90) == 3
    assert noc([0.5, 0.6], 0.9) == 20 and noc([0.95] * 3, 0.9, max_clicks=5) == 1
    s = noc_summary([[0.5, 0.86, 0.91], [0.2, 0.3]], max_clicks=20)
    assert s == {"NoC@85": (2 + 20) / 2, "NoF@85": 1.0, "NoC@90": (3 + 20) / 2, "NoF@90": 1.0}


def _full_image_click(gt, pred, clicked):
    """The clicker's rule computed on the whole image (the definition the cropped version must equal)."""
    from benchmark.eval.protocols import exact_distance

    def dist(region):
        return exact_distance(np.pad(region.astype(np.uint8), 1))[1:-1, 1:-1]

    fn_dt, fp_dt = dist(gt & ~pred), dist(~gt & pred)
    fn_dt[clicked] = 0
    fp_dt[clicked] = 0
    if fn_dt.max() <= 0 and fp_dt.max() <= 0:
        return None
    positive = fn_dt.max() > fp_dt.max()
    y, x = np.unravel_index(int(np.argmax(fn_dt if positive else fp_dt)), gt.shape)
    return Click(int(x), int(y), bool(positive))


def test_cropped_next_click_equals_the_full_image_rule():
    """next_click works on the box of gt | pred; ties and border cases must land on the same pixel."""
    import cv2

    rng = np.random.default_rng(3)
    for trial in range(150):
        h, w = rng.integers(8, 60, size=2)
        gt, pred = np.zeros((h, w), np.uint8), np.zeros((h, w), np.uint8)
        for m in (gt, pred):
            for _ in range(rng.integers(1, 4)):
                cv2.ellipse(m, (int(rng.integers(0, w)), int(rng.integers(0, h))),
                            (int(rng.integers(1, 12)), int(rng.integers(1, 12))), float(rng.integers(0, 180)), 0, 360, 1, -1)
        gt, pred = gt.astype(bool), pred.astype(bool) if trial % 5 else np.zeros((h, w), bool)
        clicked = rng.random((h, w)) < 0.02
        assert next_click(gt, pred, clicked) == _full_image_click(gt, pred, clicked), trial
