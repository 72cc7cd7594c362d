import csv

import pytest

from benchmark.evaluate import evaluate, read_results
from benchmark.leaderboard import build_leaderboards


def test_leaderboard_numbers_and_stable_bytes(tiny_dataset, tmp_path):
    results = tmp_path / "results"
    evaluate("box", tiny_dataset, "box", results)
    evaluate("box", tiny_dataset, "point", results)
    out1, out2 = tmp_path / "lb1", tmp_path / "lb2"
    files = build_leaderboards([results], out1)
    build_leaderboards([results], out2)
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
    assert "| box | measured |" in md and "degraded mean" in md
