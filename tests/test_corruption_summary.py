"""Corruption summaries (per-corruption means, CE, mCE, relative mCE) against a hand computation."""
import math

import pytest

from benchmark.report.corruption_summary import summarise, summary_csv, summary_markdown
from benchmark.report.leaderboard import Row


def _rows(model, clear, table):
    rows = [Row("robustseg_box", "d", model, "measured", "box", "clear", 0, 4, {"mIoU": clear})]
    for cond, sevs in table.items():
        rows += [Row("robustseg_box", "d", model, "measured", "box", cond, s, 4, {"mIoU": v})
                 for s, v in enumerate(sevs, start=1)]
    return rows


def test_ce_and_mce_by_hand():
    # errors (100 - mIoU): ref clear 10, fog 20/30, snow 40/40; model clear 5, fog 15/25, snow 20/30
    rows = _rows("ref", 90, {"fog": [80, 70], "snow": [60, 60]}) + \
        _rows("m", 95, {"fog": [85, 75], "snow": [80, 70]})
    s = {x.model: x for x in summarise(rows, reference="ref")}["m"]
    assert s.per_corruption == {"fog": 80.0, "snow": 75.0}
    assert s.mean == pytest.approx(77.5)
    # CE fog = (15 + 25) / (20 + 30) = 0.8; snow = (20 + 30) / (40 + 40) = 0.625
    assert s.ce["fog"] == pytest.approx(80.0) and s.ce["snow"] == pytest.approx(62.5)
    assert s.mce == pytest.approx(71.25)
    # relative: fog (10 + 20) / (10 + 20) = 1; snow (15 + 25) / (30 + 30) = 2/3
    assert s.relative_mce == pytest.approx(100 * (1 + 2 / 3) / 2)
    ref = {x.model: x for x in summarise(rows, reference="ref")}["ref"]
    assert ref.mce == pytest.approx(100.0) and ref.relative_mce == pytest.approx(100.0)


def test_imagecorruptions_mce_leaves_out_the_extra_four():
    rows = _rows("ref", 90, {"fog": [80], "saturate": [50]}) + _rows("m", 90, {"fog": [85], "saturate": [90]})
    s = {x.model: x for x in summarise(rows, reference="ref")}["m"]
    assert s.ce["saturate"] == pytest.approx(20.0)  # reported per corruption...
    assert s.mce == pytest.approx(75.0)  # ...but the mean is fog's alone (15 / 20)


def test_without_reference_ce_is_empty_and_said():
    rows = _rows("m", 90, {"fog": [80, 60]})
    (s,) = summarise(rows)
    assert s.ce == {} and math.isnan(s.mce) and s.per_corruption == {"fog": 70.0}
    assert "--reference-model" in summary_markdown("robustseg_box", [s])
    assert summary_csv([s]).splitlines()[1:] == ["d,box,m,,fog,70.00,,", "d,box,m,,all,70.00,,"]


def test_leaderboard_writes_summaries_against_the_cli_reference(tmp_path):
    import csv

    from benchmark.cli import main
    from benchmark.data.build import BuildConfig, build
    from benchmark.eval.evaluate import evaluate

    ds = tmp_path / "ds"
    build(BuildConfig(source_options={"num_images": 3, "width": 64, "height": 48},
                      profile="imagecorruptions/fog:1,imagecorruptions/fog:3,imagecorruptions/contrast:2",
                      image_format="png"), ds)
    for model in ("box", "grabcut"):
        evaluate(model, ds, "box", tmp_path / "results")
    assert main(["leaderboard", str(tmp_path / "results"), "--out", str(tmp_path / "lb"), "--no-plots",
                 "--no-reported", "--reference-model", "grabcut"]) == 0
    rows = list(csv.DictReader(open(tmp_path / "lb" / "robustseg_box_corruptions.csv")))
    assert {(r["model"], r["corruption"]) for r in rows} == {(m, c) for m in ("box", "grabcut")
                                                              for c in ("fog", "contrast", "all")}
    ref = {r["corruption"]: r for r in rows if r["model"] == "grabcut"}
    assert ref["all"]["CE"] == "100.00" and ref["fog"]["CE"] == "100.00" and ref["all"]["reference"] == "grabcut"
    lb = {(r["model"], r["condition"], r["severity"]): float(r["mIoU"])
          for r in csv.DictReader(open(tmp_path / "lb" / "robustseg_box.csv"))}
    box_fog = {r["corruption"]: r for r in rows if r["model"] == "box"}["fog"]
    assert float(box_fog["mIoU"]) == pytest.approx((lb[("box", "fog", "1")] + lb[("box", "fog", "3")]) / 2, abs=0.01)
    assert "| contrast |" in (tmp_path / "lb" / "robustseg_box_corruptions.md").read_text()
