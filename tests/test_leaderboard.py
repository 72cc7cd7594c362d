import csv

import pytest

from benchmark.evaluate import evaluate, read_results
from benchmark.leaderboard import build_leaderboards


def test_leaderboard_numbers_and_stable_bytes(tiny_dataset, tmp_path):
    results = tmp_path / "results"
    evaluate("box", tiny_dataset, "box", results)
    evaluate("box", tiny_dataset, "point", results)
    out1, out2 = tmp_path / "lb1", tmp_path / "lb2"
    files = build_leaderboards([results], out1, reported=False)
    build_leaderboards([results], out2, reported=False)
    names = sorted(p.name for p in files)
    assert names == ["robustseg_box.csv", "robustseg_box.md", "robustseg_box.png",
                     "robustseg_point.csv", "robustseg_point.md", "robustseg_point.png"]
    for n in names:
        if not n.endswith(".png"):
            assert (out1 / n).read_bytes() == (out2 / n).read_bytes()
    df = read_results(results).to_pandas()
    rows = list(csv.DictReader(open(out1 / "robustseg_box.csv")))
    assert rows[0]["condition"] == "clear" and rows[0]["kind"] == "measured"
    for r in rows:
        g = df[(df.protocol == "box") & (df.condition == r["condition"])]
        assert int(r["instances"]) == len(g)
        assert float(r["mIoU"]) == pytest.approx(100 * g.iou.mean(), abs=0.005)
    md = (out1 / "robustseg_box.md").read_text()
    assert "| box | box | measured |" in md and "degraded mean" in md


def test_reported_rows_are_marked_with_paper_and_table(tiny_dataset, tmp_path):
    from benchmark.reported import load_reported

    results = tmp_path / "results"
    evaluate("box", tiny_dataset, "point", results)
    build_leaderboards([results], tmp_path / "lb", plots=False)
    rows = list(csv.DictReader(open(tmp_path / "lb" / "robustseg_point.csv")))
    reported = [r for r in rows if r["kind"] == "reported"]
    measured = [r for r in rows if r["kind"] == "measured"]
    assert measured and all(r["model"] == "box" and r["paper"] == "" for r in measured)
    assert reported and all(r["paper"] and r["table"] and r["instances"] == "0" for r in reported)
    # every reported cell is a number printed in the paper, as a percentage
    printed = {(r.paper, r.table, r.model, r.dataset, r.condition, r.metric): r.percent for r in load_reported()}
    for r in reported:
        for metric in ("mIoU", "mPA"):
            if r.get(metric):
                assert float(r[metric]) == pytest.approx(
                    printed[(r["paper"], r["table"], r["model"], r["dataset"], r["condition"], metric)], abs=0.005)
    sam = next(r for r in reported if r["model"] == "SAM" and r["table"] == "Table 2" and r["condition"] == "clear")
    assert sam["mIoU"] == "84.02"  # RobustSAM Table 2, MSRA10K, SAM, clear IoU 0.8402
