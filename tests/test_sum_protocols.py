"""SUM's box-then-clicks (box@6) and boundary-point protocols, with answers worked out by hand."""
import numpy as np
import pytest

from baselines.contract import Prediction
from benchmark.eval.clicker import Click, next_click, run_interactive
from benchmark.eval.protocols import EVAL_PROTOCOLS, boundary_point, tight_box


def square(shape, y0, y1, x0, x1):
    m = np.zeros(shape, bool)
    m[y0:y1, x0:x1] = True
    return m


def test_boundary_point_is_the_row_major_median_of_the_10_pixel_band():
    """A 30x30 square (rows/cols 5..34) in a 40x40 image: the band (distance <= 10 to the nearest
    outside pixel) is rows 5..14 and 25..34 whole (30 px each) and, in rows 15..24, columns 5..14 and
    25..34 (20 px each): 800 pixels. The median, index 399 in row-major order, is the last band pixel
    of row 19 (rows 5..14 hold 300, rows 15..19 hold 100): column 34."""
    gt = square((40, 40), 5, 35, 5, 35)
    assert boundary_point(gt).tolist() == [34.0, 19.0]
    # the point lies inside the mask, near its edge, away from the centre
    assert boundary_point(gt, band=1).tolist() == [34.0, 19.0]  # band 1: 116 edge pixels, index 57 = (34, 19)


def test_boundary_point_of_a_thin_mask_stays_inside_it():
    gt = np.zeros((20, 30), bool)
    gt[9:11, 2:28] = True  # 2 px thick: every pixel is in the band
    x, y = boundary_point(gt)
    assert gt[int(y), int(x)] and (x, y) == (27, 9)  # 52 pixels, index 25 = the last of row 9 (columns 2..27)


def _recording(masks):
    """A fake model that answers round k with masks[k] and records the prompts it got."""
    seen = []

    def predict(prompts, multimask):
        seen.append(prompts)
        m = masks[min(len(seen) - 1, len(masks) - 1)]
        return Prediction(masks=m[None, None], scores=np.array([[0.5]], np.float32),
                          logits=np.zeros((1, 1, 8, 8), np.float32))
    return predict, seen


def test_box_first_sends_the_box_alone_then_keeps_it_with_every_click():
    gt = square((20, 20), 4, 16, 4, 16)
    first = square((20, 20), 4, 16, 4, 10)  # round 1: the left half only
    predict, seen = _recording([first, gt])
    rounds = run_interactive(predict, gt, max_clicks=3, first="box")
    assert [r.round for r in rounds] == [1, 2, 3]
    assert rounds[0].click is None and seen[0].points is None and seen[0].mask_inputs is None
    np.testing.assert_array_equal(seen[0].boxes, tight_box(gt)[None])
    want = next_click(gt, first)
    assert rounds[1].click == want and want.positive
    np.testing.assert_array_equal(seen[1].boxes, tight_box(gt)[None])
    assert seen[1].points.tolist() == [[[want.x, want.y]]] and seen[1].mask_inputs is not None
    assert rounds[0].iou == pytest.approx(0.5) and rounds[1].iou == 1.0
    assert rounds[2].iou == 1.0 and len(seen) == 2  # no error left: the last result is repeated


def test_boundary_first_clicks_the_boundary_point():
    gt = square((40, 40), 5, 35, 5, 35)
    predict, seen = _recording([gt])
    rounds = run_interactive(predict, gt, max_clicks=1, first="boundary", multimask=True, oracle=True)
    assert rounds[0].click == Click(34, 19, True) and seen[0].boxes is None
    with pytest.raises(ValueError, match="first must be one of point, box, boundary"):
        run_interactive(predict, gt, first="lasso")


def test_sum_protocols_are_registered_as_the_paper_runs_them():
    box6, single, bnd = (EVAL_PROTOCOLS[n] for n in ("sum_box_oracle", "sum_box_single", "sum_boundary"))
    assert (box6.first, box6.clicks, box6.oracle, box6.multimask) == ("box", 6, True, True)
    assert (single.first, single.clicks, single.oracle, single.multimask) == ("box", 6, False, False)
    assert (bnd.first, bnd.clicks, bnd.oracle) == ("boundary", 1, True)


def test_box_first_protocol_runs_through_the_evaluator(tiny_dataset, tmp_path):
    from baselines import create_model
    from benchmark.eval.evaluate import evaluate
    from benchmark.report.results import read_results

    r = evaluate(create_model("box"), tiny_dataset, "sum_box_single", tmp_path / "res")
    df = read_results(r.out).to_pandas()
    assert sorted(df["round"].unique()) == [1, 2, 3, 4, 5, 6]
    first = df[df["round"] == 1]
    box = evaluate(create_model("box"), tiny_dataset, "box", tmp_path / "res")
    one = read_results(box.out).to_pandas()
    key = ["image_id", "condition", "severity", "object_id"]
    merged = first.merge(one, on=key, suffixes=("", "_box"))
    assert len(merged) == len(first) and np.allclose(merged["iou"], merged["iou_box"])  # round 1 = the box alone
