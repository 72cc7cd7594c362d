import csv

import pytest

from benchmark.eval.evaluate import evaluate
from benchmark.report.results import read_results
from benchmark.report.leaderboard import build_leaderboards


def test_leaderboard_numbers_and_stable_bytes(tiny_dataset, tmp_path):
    results = tmp_path / "results"
    evaluate("box", tiny_dataset, "box", results)
    evaluate("box", tiny_dataset, "point", results)
    out1, out2 = tmp_path / "lb1", tmp_path / "lb2"
    files = build_leaderboards([results], out1, reported=False)
    build_leaderboards([results], out2, reported=False)
    names = sorted(p.name for p in files)
    assert names == ["ap.csv", "ap.md", "robustseg_box.csv", "robustseg_box.md", "robustseg_box_ds.png",
                     "robustseg_point.csv", "robustseg_point.md", "robustseg_point_ds.png"]
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
    from benchmark.report.reported import load_reported

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


def test_cis_gaps_ap_noc_and_tests_against_direct_computation(tiny_dataset, tmp_path):
    import numpy as np
    from scipy.stats import wilcoxon

    from benchmark.eval.ap import ImageInstances, Instance, coco_ap
    from benchmark.schema import decode_rle

    results = tmp_path / "results"
    for model in ("box", "grabcut"):
        evaluate(model, tiny_dataset, "box", results)
    evaluate("grabcut", tiny_dataset, "interactive", results, splits=["clear"])
    files = build_leaderboards([results], tmp_path / "lb", reported=False)
    df = read_results(results).to_pandas()
    box = {(r["model"], r["condition"]): r for r in csv.DictReader(open(tmp_path / "lb" / "robustseg_box.csv"))}
    for (model, cond), r in box.items():
        g = df[(df.model == model) & (df.protocol == "box") & (df.condition == cond)]
        assert float(r["mIoU_lo"]) <= float(r["mIoU"]) <= float(r["mIoU_hi"])
        assert float(r["mBIoU"]) == pytest.approx(100 * g.boundary_iou.mean(), abs=0.005)
        if cond != "clear":
            c = df[(df.model == model) & (df.protocol == "box") & (df.condition == "clear")]
            m = c.merge(g, on=["image_id", "object_id"], suffixes=("_c", "_d"))
            assert float(r["gap"]) == pytest.approx(100 * (m.iou_c - m.iou_d).mean(), abs=0.005)
    # AP: the same instances through pycocotools directly
    g = df[(df.model == "grabcut") & (df.protocol == "box") & (df.condition == "clear")]
    images = []
    for image_id, gi in g.groupby("image_id"):
        h, w = int(gi.height.iloc[0]), int(gi.width.iloc[0])
        gts = [Instance(decode_rle({"size": [h, w], "counts": x}), c) for x, c in zip(gi.gt_rle, gi.category)]
        preds = [Instance(decode_rle({"size": [h, w], "counts": x}), c, score=float(s))
                 for x, c, s in zip(gi.pred_rle, gi.category, gi.score)]
        images.append(ImageInstances(image_id, h, w, gts, preds))
    ap = coco_ap(images)
    row = next(r for r in csv.DictReader(open(tmp_path / "lb" / "ap.csv"))
               if (r["model"], r["protocol"], r["condition"]) == ("grabcut", "box", "clear"))
    assert float(row["AP"]) == pytest.approx(100 * ap["AP"], abs=0.005)
    # NoC: first click reaching the threshold, 20 when never reached
    inter = next(r for r in csv.DictReader(open(tmp_path / "lb" / "interactive.csv")) if r["protocol"] == "interactive")
    nocs = []
    for _, gi in df[df.protocol == "interactive"].groupby(["image_id", "object_id"]):
        ious = gi.sort_values("round").iou.to_numpy()
        hit = np.nonzero(ious >= 0.9)[0]
        nocs.append(hit[0] + 1 if hit.size else 20)
    assert float(inter["NoC90"]) == pytest.approx(np.mean(nocs), abs=0.005)
    # Wilcoxon between the two models on clear, matched instances, against scipy
    t = next(r for r in csv.DictReader(open(tmp_path / "lb" / "robustseg_box_wilcoxon.csv")) if r["condition"] == "clear")
    a = df[(df.model == "box") & (df.protocol == "box") & (df.condition == "clear")].sort_values(["image_id", "object_id"])
    b = df[(df.model == "grabcut") & (df.protocol == "box") & (df.condition == "clear")].sort_values(["image_id", "object_id"])
    assert float(t["p"]) == pytest.approx(wilcoxon(a.iou.to_numpy(), b.iou.to_numpy()).pvalue, rel=1e-3)
    assert float(t["p_holm"]) >= float(t["p"])
    assert any(p.name == "interactive.csv" for p in files)


def test_plots_cover_every_dataset_and_stay_readable_at_96_conditions(tmp_path):
    from PIL import Image

    from benchmark.report.leaderboard import Row
    from benchmark.report.plots import plot_track
    from corruptions.profiles import IMAGECORRUPTIONS

    rows = []
    for dataset in ("a", "b/../c"):
        for model in ("m1", "m2"):
            rows.append(Row("robustseg_box", dataset, model, "measured", "box", "clear", 0, 9, {"mIoU": 80.0},
                            ci={"mIoU": (75.0, 85.0)}))
            rows += [Row("robustseg_box", dataset, model, "measured", "box", c, s, 9, {"mIoU": 80.0 - 5 * s},
                         ci={"mIoU": (70.0 - 5 * s, 90.0 - 5 * s)}) for c in IMAGECORRUPTIONS for s in range(1, 6)]
    written = plot_track("robustseg_box", rows, tmp_path)
    assert sorted(written) == ["a", "b/../c"]
    names = sorted(p.name for ps in written.values() for p in ps)
    assert names == ["robustseg_box_a.png", "robustseg_box_a_severity.png", "robustseg_box_b_.._c.png",
                     "robustseg_box_b_.._c_severity.png"]
    assert all(p.parent == tmp_path for ps in written.values() for p in ps)  # a dataset name never picks a path
    with Image.open(tmp_path / "robustseg_box_a.png") as im:
        assert im.width <= 1600  # 20 groups (clear + 19 corruptions, mean over severities), not 96
