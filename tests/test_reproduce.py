"""Reproduction suites end to end: every suite on the synthetic source with weight-free and tiny
random-init models (numbers differ from the papers; the machinery must not), the input listing, and
early failure on missing inputs. Reproduced cells are checked against the result rows directly."""
from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from baselines import Prediction
from baselines.weightfree import BoxBaseline
from benchmark.errors import UsageError
from benchmark.report.reported import load_reported
from benchmark.report.reported.suites import load_suites
from benchmark.report.reported.vocab import SYNTHETIC_CONDITIONS
from benchmark.report.reproduce import (MissingInputsError, format_status, get_suite, list_suites_status, reproduce,
                                 suite_status, synthetic_override)

SUITES = load_suites()
INSTANCE_SUITES = [s for s in SUITES if s.task == "instance"]  # semantic ones: tests/test_reproduce_semantic.py
TINY = {"config": "tiny"}


class UncertainBox(BoxBaseline):
    """The box baseline plus a per-pixel uncertainty: distance to the box edge, inverted, so the
    uncertainty metrics have something to score."""

    def predict(self, prompts, multimask=False):
        pred = BoxBaseline.predict(self, prompts, multimask)
        unc = np.stack([[np.where(m, 0.2, 0.6).astype(np.float32) for m in ms] for ms in pred.masks])
        return Prediction(pred.masks, pred.scores, uncertainty=unc)


def _models(suite):
    """First paper model -> the box baseline, second -> tiny random-init SAM ViT-B (if there is one)."""
    names = [m.name for m in suite.models]
    chosen = {names[0]: "box"}
    if len(names) > 1:
        chosen[names[1]] = "sam_vit_b"
    return chosen


def _read(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    """One output folder for every suite: builds and results are shared (cached by build, model, protocol)."""
    return tmp_path_factory.mktemp("reproduce")


@pytest.mark.parametrize("suite", INSTANCE_SUITES, ids=[s.name for s in INSTANCE_SUITES])
def test_every_suite_runs_end_to_end_on_synthetic(suite, out):
    path = reproduce(suite.name, None, {"sam_vit_b": None}, out, random_weights=True, models=_models(suite),
                     model_kwargs={"sam_vit_b": TINY}, dataset_override=synthetic_override(suite))
    rows = _read(path)
    reported = suite.reported(load_reported())
    if reported:
        assert [(r["table"], r["model"], r["dataset"], r["condition"], r["protocol"], r["metric"], r["printed"])
                for r in rows] == [(r.table, r.model, r.dataset, r.condition, r.protocol, r.metric, r.printed)
                                   for r in reported]
        assert all(float(r["reported"]) == pytest.approx(p.percent, abs=0.005) for r, p in zip(rows, reported))
    else:
        n = len(suite.models) * (len(suite.datasets) + len(suite.aggregates)) * len(suite.conditions) \
            * len(suite.protocols) * len(suite.metrics)
        assert len(rows) == n and all(r["reported"] == "" for r in rows)
    done = [r for r in rows if r["reproduced"]]
    runnable = [r for r in rows if r["our_protocol"] and r["our_model"]]
    assert done or not runnable, f"{suite.name}: runnable cells but no reproduced number"
    for r in done:
        assert r["our_model"] in ("box", "sam_vit_b (random weights)")  # labelled as leaderboards label it
        v = float(r["reproduced"])
        assert 0.0 <= v <= 100.0
        if r["reported"]:
            assert float(r["difference"]) == pytest.approx(v - float(r["reported"]), abs=0.011)
    for r in rows:
        if not r["reproduced"]:
            assert r["note"], f"{suite.name}: a cell without a number must say why: {r}"
    md = (out / f"{suite.name}.md").read_text()
    assert "reported / reproduced" in md and suite.title in md


def _results(out: Path):
    from benchmark.report.results import read_results

    return read_results(out / "results", allow_random_weights=True).to_pandas()


def test_reproduced_numbers_match_the_result_rows(out):
    """Pooled degraded, clear, the 15:1 average, interactive rounds and SUM's dataset averages,
    recomputed here from the per-instance results."""
    s = get_suite("robustsam_seen_msra10k_point")
    reproduce(s.name, None, {"sam_vit_b": None}, out, random_weights=True, models=_models(s), model_kwargs={"sam_vit_b": TINY},
              dataset_override=synthetic_override(s))
    df = _results(out)
    g = df[(df.model == "box") & (df.protocol == "point") & df.dataset.str.startswith("synthetic-robustsam")]
    assert set(g.condition) == {"clear", *SYNTHETIC_CONDITIONS}
    clear = 100 * g[g.condition == "clear"].iou.mean()
    degraded = 100 * g[g.condition != "clear"].iou.mean()
    cells = {(r["model"], r["condition"], r["metric"]): r for r in _read(out / f"{s.name}.csv")}
    assert float(cells[("SAM", "clear", "mIoU")]["reproduced"]) == pytest.approx(clear, abs=0.005)
    assert float(cells[("SAM", "degraded", "mIoU")]["reproduced"]) == pytest.approx(degraded, abs=0.005)
    assert float(cells[("SAM", "average", "mIoU")]["reproduced"]) == pytest.approx((15 * degraded + clear) / 16,
                                                                                   abs=0.005)
    assert int(cells[("SAM", "average", "mIoU")]["instances"]) == len(g)

    s = get_suite("sum_vs_sam_budgets")
    reproduce(s.name, None, {"sam_vit_b": None}, out, random_weights=True, models=_models(s), model_kwargs={"sam_vit_b": TINY},
              dataset_override=synthetic_override(s))
    df = _results(out)
    for paper_model, ours in _models(s).items():
        named = f"{ours}[config=tiny]" if ours == "sam_vit_b" else ours  # a model's options are in its name
        g = df[(df.model == named) & (df.protocol == "sum_oracle")]
        rows = [r for r in _read(out / f"{s.name}.csv")
                if r["model"] == paper_model and r["metric"] == "mBIoU" and r["reproduced"]]
        by = {(r["dataset"], r["protocol"]): float(r["reproduced"]) for r in rows}
        for protocol, rnd in (("point", 1), ("point@5", 5), ("point@6", 6)):
            want = 100 * g[g["round"] == rnd].boundary_iou.mean()
            assert by[("coift", protocol)] == pytest.approx(want, abs=0.005)
            assert by[("sum_salient", protocol)] == pytest.approx(want, abs=0.005)  # 6 identical stand-in sets
    per_round = df[(df.model == "sam_vit_b[config=tiny]") & (df.protocol == "sum_oracle")].groupby("round").boundary_iou.mean()
    assert per_round.nunique() > 1  # the rounds really differ, so picking the wrong one would show


def test_uncertainty_metrics_and_wilcoxon_across_datasets(tmp_path):
    s = get_suite("ruac_uncertainty")
    override = {d.dataset: replace(o, inputs=(replace(o.inputs[0], options=o.inputs[0].options | {"seed": k}),))
                for k, (d, o) in enumerate(zip(s.datasets, synthetic_override(s).values()))}
    reproduce(s.name, None, {}, tmp_path, models={"RUAC": "tests.test_reproduce:UncertainBox",
                                                  "SAM 2": "box"}, dataset_override=override)
    rows = _read(tmp_path / f"{s.name}.csv")
    df = _results(tmp_path)
    unc = df[df.model == "tests.test_reproduce:UncertainBox"]
    for r in rows:
        if r["model"] == "RUAC" and r["metric"] == "AUROC" and r["protocol"] == "box":
            build = unc[(unc.protocol == "box") & (unc.dataset.str.contains(f"-{_digest(tmp_path, r['dataset'])}"))]
            assert float(r["reproduced"]) == pytest.approx(100 * build.unc_auroc.mean(), abs=0.005)
        if r["model"] == "SAM 2" and r["metric"] in ("AUROC", "AURC", "PAvPU"):
            assert r["reproduced"] == "" and "no uncertainty map" in r["note"]
    stats = _read(tmp_path / f"{s.name}_stats.csv")
    miou = [t for t in stats if t["metric"] == "mIoU" and t["protocol"] == "box"]
    assert len(miou) == 1 and int(miou[0]["datasets"]) == len(s.datasets)
    assert float(miou[0]["mean_diff"]) == pytest.approx(0.0, abs=1e-9)  # same masks, only uncertainty differs
    assert float(miou[0]["pvalue"]) == 1.0
    assert "Wilcoxon" in (tmp_path / f"{s.name}.md").read_text()


def _digest(out: Path, dataset: str) -> str:
    """The build-hash part of the folder built for a suite dataset (synthetic seeds differ per dataset)."""
    s = get_suite("ruac_uncertainty")
    k = [d.dataset for d in s.datasets].index(dataset)
    for d in (out / "datasets").iterdir():
        if json.loads((d / "manifest.json").read_text())["build"]["source_options"]["seed"] == k:
            return d.name.rsplit("-", 1)[1]
    raise AssertionError(dataset)


def _input(data_root, checkpoints, model):
    st = suite_status(get_suite("robustsam_seen_msra10k_point"), data_root, checkpoints, models=[model])
    return next(i for i in st.inputs if i.name == model)


def test_list_says_which_datasets_and_weights_are_missing(tmp_path):
    ckpt = tmp_path / "sam_vit_b_01ec64.pth"
    ckpt.write_bytes(b"x")
    (tmp_path / "robustsam" / "test").mkdir(parents=True)
    statuses = {s.suite: s for s in list_suites_status(tmp_path, {"sam_vit_b": str(ckpt)})}
    assert set(statuses) == {s.name for s in SUITES}
    st = {(i.kind, i.name): i for i in statuses["robustsam_seen_msra10k_point"].inputs}
    assert st[("dataset", "msra10k")].state == "missing"
    assert "lacks test/clear.zip or test/clear, test/masks.zip or test/masks" in st[("dataset", "msra10k")].detail
    assert "dataset/test/clear.zip to " in st[("dataset", "msra10k")].detail
    assert st[("model", "SAM")].state == "present" and st[("model", "SAM")].checkpoint == str(ckpt)
    hq = st[("model", "HQ-SAM")]
    assert hq.state == "missing" and "--checkpoint hq_sam_vit_b=PATH" in hq.detail
    airnet = st[("model", "AirNet+SAM")]  # two files: the restoration network's, then SAM's
    assert airnet.state == "missing" and "--checkpoint airnet_sam_vit_b=All.pth,sam_vit_b_01ec64.pth" in airnet.detail
    both = {"airnet_sam_vit_b": f"{tmp_path / 'All.pth'},{ckpt}"}
    airnet = _input(tmp_path, both, "AirNet+SAM")
    assert airnet.state == "missing" and airnet.detail == f"airnet_sam_vit_b: checkpoint file {tmp_path / 'All.pth'} not found"
    (tmp_path / "All.pth").write_bytes(b"x")
    airnet = _input(tmp_path, both, "AirNet+SAM")
    assert airnet.state == "present" and airnet.checkpoint == both["airnet_sam_vit_b"]
    for name in ("clear.zip", "masks"):  # a zip or its extracted folder will do
        (tmp_path / "robustsam" / "test" / name).mkdir()
    st = {(i.kind, i.name): i for i in suite_status(get_suite("robustsam_seen_msra10k_point"), tmp_path,
                                                    {"sam_vit_b": str(ckpt)}).inputs}
    assert st[("dataset", "msra10k")].state == "present"
    sum_st = {(i.kind, i.name): i for i in statuses["sum_ft_small_3point"].inputs}
    sub, dis = sum_st[("dataset", "fashionpedia_subpart")], sum_st[("dataset", "dis_vd")]
    assert sub.state == "missing"
    assert sub.detail == f"fashionpedia_subpart: folder {tmp_path / 'Fashionpedia'} not found"
    assert dis.state == "missing" and "DIS5K/DIS-VD" in dis.detail
    coift = sum_st[("dataset", "coift")]
    assert coift.state == "missing" and "thin_object_detection/COIFT" in coift.detail
    text = format_status(list(statuses.values()))
    assert "robustsam_seen_msra10k_point  [MISSING INPUTS]" in text
    assert "HQ-SAM: needs --checkpoint hq_sam_vit_b=PATH" in text
    no_root = {(i.kind, i.name): i for i in list_suites_status(None)[0].inputs}
    assert "needs --data-root" in no_root[("dataset", "msra10k")].detail
    listing = format_status(list_suites_status(None))
    assert "sum_augseg_1point  [MISSING INPUTS]" in listing  # AugSeg variants: our recipe's, given checkpoints
    assert "SUM (FT-Medium): needs a checkpoint: SUM publishes no weights: train your own" in listing
    # the SUM ablation rows, the U2PL and AugSeg baselines and the HQ-SAM-architecture rows run our recipes'
    # variants (recipe options; sum-hq), given a checkpoint
    for row, option in (("Vanilla (FT-Medium)", "uncertainty=none"), ("Mask Refinement (FT-Medium)", "pseudo_label=refined"),
                        ("U2PL (FT-Small)", "semisup=u2pl"), ("AugSeg Mixed-Prompt (FT-Small)", "semisup=augseg"),
                        ("AugSeg Box-Prompt (FT-Small)", "augseg_prompt=box"),
                        ("AugSeg Mixed-Prompt multi-consistency (FT-Small)", "augseg_consistency=multi"),
                        ("AugSeg Uniform Point-Prompt (FT-Small)", "augseg_prompt=grid"),
                        ("SUM Continuous TP (FT-Medium)", "task_prompt=all"),
                        ("SUM Discrepancy-Uncer (FT-Small)", "uncertainty=discrepancy"),
                        ("SUM w/o uncertainty sampling (FT-Medium)", "prompt_sampling=uniform")):
        line = next(x for x in listing.splitlines() if f"model   missing     {row}:" in x)
        assert "needs a checkpoint" in line and f"--recipe-option {option}" in line, line
    assert "SAM + mask-refinement module: needs a checkpoint" in listing
    sum_sections = [sec for sec in listing.split("\n\n") if sec.startswith("sum_")]
    assert len(sum_sections) == 9 and not any("unavailable" in sec for sec in sum_sections)  # every SUM cell runnable
    for row, train_cmd in (("Vanilla (HQ-SAM arch., FT-Small)", "train sum-hq --recipe-option uncertainty=none"),
                           ("SUM (HQ-SAM arch., FT-Small)", "then `robustseg train sum-hq`")):
        line = next(x for x in listing.splitlines() if f"model   missing     {row}:" in x)
        assert "needs a checkpoint" in line and train_cmd in line and "sum_hq_sam_vit_h=RUN/" in line, line
    hq_suite = listing.split("sum_vs_hq_sam_single_output  [")[1].split("\n\n")[0]
    assert "cells   432 of 432 runnable" in hq_suite
    assert "sum_ablation_ft_medium  [MISSING INPUTS]" in listing


def test_rows_run_by_one_model_are_refused_together_and_run_one_at_a_time(tmp_path):
    """SUM fine-tuned on FT-Small, FT-Medium and FT-Large are all sum_vit_h: one checkpoint per robustseg model
    would print one model's numbers under three names, so together they are refused before anything is built."""
    suite = get_suite("sum_vs_sam_budgets")
    override = synthetic_override(suite, num_images=1)
    with pytest.raises(UsageError, match=r"'SUM \(FT-Small\)', 'SUM \(FT-Medium\)', 'SUM \(FT-Large\)' all run as "
                                         r"sum_vit_h.*one at a time"):
        reproduce(suite.name, None, {}, tmp_path / "all", random_weights=True, dataset_override=override)
    assert not (tmp_path / "all").exists()
    status = suite_status(suite, None, {"sum_vit_h": None}, models=["SUM (FT-Medium)"], dataset_override=override)
    assert [i.registry for i in status.inputs if i.kind == "model" and i.state == "present"] == ["sum_vit_h"]


def test_hq_sam_architecture_rows_share_one_model_and_run_one_at_a_time(tmp_path):
    """Vanilla and SUM in HQ-SAM's architecture are both sum_hq_sam_vit_h (recipe sum-hq, two runs)."""
    suite = get_suite("sum_vs_hq_sam_single_output")
    override = synthetic_override(suite, num_images=1)
    with pytest.raises(UsageError, match=r"'Vanilla \(HQ-SAM arch\., FT-Small\)', 'SUM \(HQ-SAM arch\., FT-Small\)' "
                                         r"all run as sum_hq_sam_vit_h"):
        reproduce(suite.name, None, {}, tmp_path / "all", random_weights=True, dataset_override=override)
    status = suite_status(suite, None, {"sum_hq_sam_vit_h": None}, models=["SUM (HQ-SAM arch., FT-Small)"],
                          dataset_override=override)
    assert [i.registry for i in status.inputs if i.kind == "model" and i.state == "present"] == ["sum_hq_sam_vit_h"]


def test_reproduce_fails_early_listing_every_missing_input(tmp_path):
    with pytest.raises(MissingInputsError) as e:
        reproduce("robustsam_unseen_point", tmp_path / "data", {}, tmp_path / "out")
    msg = str(e.value)
    for needle in ("ndd20+streets+fss1000: robustsam_release: folder", "dataset/test/clear.zip to ",
                   "SAM: needs --checkpoint sam_vit_b=PATH", "RobustSAM: needs"):
        assert needle in msg
    assert not (tmp_path / "out").exists()  # nothing built before the check
    with pytest.raises(MissingInputsError, match="nothing robustseg can run"):  # only a row without weights
        reproduce("robustsam_real_ablation", None, {}, tmp_path / "out2", models=["SAM-Finetune"])
    assert not (tmp_path / "out2").exists()
    with pytest.raises(KeyError, match="unknown suite 'nope'; valid suites: robustsam_seen_msra10k_point"):
        reproduce("nope", None, {}, tmp_path)
    with pytest.raises(KeyError, match="unknown model"):
        reproduce("robustsam_unseen_point", None, {}, tmp_path, models=["GPT"])


def test_a_layout_the_reader_rejects_fails_before_any_build(tmp_path):
    root = tmp_path / "data" / "STREETS"
    (root / "annotations").mkdir(parents=True)
    (root / "images").mkdir()
    (root / "annotations" / "instances.json").write_text("{not json")
    s = get_suite("ruac_uncertainty")
    keep = synthetic_override(s)
    keep.pop("streets")
    with pytest.raises(MissingInputsError, match=r"cannot read these datasets:\n  dataset streets \(streets\)"):
        reproduce(s.name, tmp_path / "data", {}, tmp_path / "out", models={"RUAC": "box"}, dataset_override=keep,
                  datasets=["streets", "ndd20"])
    assert not (tmp_path / "out" / "datasets").exists() or not any((tmp_path / "out" / "datasets").iterdir())


def test_real_data_cityscapes_suite(shared_data, tmp_path):
    """SUM Table 19 on the real Cityscapes frame in ../shared (7 instances), weight-free model."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "cityscapes").symlink_to(shared_data / "adverse" / "cityscapes")
    path = reproduce("sum_additional_sets", data, {}, tmp_path / "out", models={"SAM": "box"},
                     datasets=["cityscapes"])
    rows = [r for r in _read(path) if r["dataset"] == "cityscapes" and r["model"] == "SAM"]
    assert {r["protocol"] for r in rows} == {"point", "point@3", "point@5", "point@9"}
    for r in rows:  # point@9 runs the 9-click oracle protocol (sum_oracle9)
        assert 0 < float(r["reproduced"]) <= 100 and int(r["instances"]) == 7
    other = [r for r in _read(path) if r["dataset"] == "ibd" and r["model"] == "SAM" and r["protocol"] != "point@9"]
    # a dataset left out by datasets= keeps its cells empty, with the reason
    assert other and all(r["reproduced"] == "" and r["note"] == "dataset not run: not selected" for r in other)


def test_suite_catalog_maps_to_real_protocols_and_sources():
    from benchmark.eval.protocols import EVAL_PROTOCOLS
    from benchmark.data.sources import list_sources

    sources = {s.name for s in list_sources()}
    for s in SUITES:
        for m in s.matches:
            assert m.protocol is None or m.protocol in EVAL_PROTOCOLS or (s.task, m.protocol) == ("semantic",
                                                                                                  "semantic"), (s.name, m)
            if m.protocol and m.protocol.startswith("sum_"):
                assert m.round <= EVAL_PROTOCOLS[m.protocol].clicks
        assert [m.paper_protocol for m in s.matches] == list(s.protocols)
        for d in s.datasets:
            assert [i.source for i in d.inputs] == list(d.sources)
            assert all(i.source in sources and i.root for i in d.inputs)
        assert all(i.source in sources and i.root for i in s.training)


def test_bad_protocol_map_names_the_suite(tmp_path):
    from benchmark.report.reported import ReportedDataError
    from benchmark.report.reported.suites import DATA_DIR

    catalog = json.loads((DATA_DIR / "suites.json").read_text())
    del catalog["protocol_map"]["sum"]["point@9"]
    path = tmp_path / "suites.json"
    path.write_text(json.dumps(catalog))
    with pytest.raises(ReportedDataError, match=r"'sum_additional_sets': protocol\(s\) \['point@9'\] have no entry"):
        load_suites(path)
