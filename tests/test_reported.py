"""Reported numbers: every value is printed in its paper, in its table's printed order, and consistent.

Checks against the seed texts in ../shared/seeds (skipped when ../shared is absent) plus arithmetic the
papers themselves state (weighted averages, per-category means), which catches a number put in the wrong cell.
"""
from __future__ import annotations

import dataclasses
import json
import re
from collections import defaultdict

import pytest

from benchmark.report.reported import COLUMNS, DATA_DIR, PAPERS, ReportedDataError, ReportedRow, load_reported, read_csv
from benchmark.report.reported.vocab import CONDITIONS, DATASETS, METRICS, SYNTHETIC_CONDITIONS, UNITS

DECIMAL = re.compile(r"(?<![\d.])\d+\.\d+(?![\d.])")
SUM_SETS = {
    "sum_salient": ["coift", "dis_vd", "hrsod", "thinobject5k", "big", "voceval"],
    "sum_entity": ["entityseg_0", "entityseg_1", "entityseg_2"],
    "sum_part": ["bodypart", "easyportrait", "fashionpedia", "fashionpedia_subpart", "paco"],
}
SUM_SETS["sum_all"] = [d for ds in SUM_SETS.values() for d in ds]


@pytest.fixture(scope="module")
def rows() -> list[ReportedRow]:
    return load_reported()


@pytest.fixture(scope="module")
def seeds(shared_dir) -> dict[str, str]:
    return {key: (shared_dir / "seeds" / p.seed).read_text(encoding="utf-8") for key, p in PAPERS.items()}


def not_printed(rows: list[ReportedRow], seeds: dict[str, str]) -> list[ReportedRow]:
    """Rows whose value string is not a whole number token of their paper's text."""
    tokens = {key: set(DECIMAL.findall(text)) for key, text in seeds.items()}
    return [r for r in rows if r.printed not in tokens[r.paper]]


def tables_out_of_place(rows: list[ReportedRow], seeds: dict[str, str]) -> list[str]:
    """Tables whose values, in file order, are not one contiguous run of the paper's decimal numbers."""
    runs = {key: " " + " ".join(DECIMAL.findall(text)) + " " for key, text in seeds.items()}
    by_table = defaultdict(list)
    for r in rows:
        by_table[(r.paper, r.table)].append(r.printed)
    return [f"{p} {t}" for (p, t), vals in by_table.items() if f" {' '.join(vals)} " not in runs[p]]


def test_loader_returns_typed_rows(rows):
    assert rows and all(isinstance(r, ReportedRow) for r in rows)
    counts = defaultdict(int)
    for r in rows:
        counts[r.paper] += 1
        assert isinstance(r.value, float) and isinstance(r.severity, int)
        assert 0.0 <= r.percent <= 100.0
        for field in ("paper", "table", "model", "metric", "printed"):
            assert getattr(r, field), (field, r)
    # RobustSAM Tables 2-7 and SUM Tables 1-19 are transcribed; GaRA-SAM and RUAC seeds print no tables.
    assert counts == {"robustsam": 146, "sum": 2032}
    assert {r.table for r in rows if r.paper == "robustsam"} == {f"Table {n}" for n in range(2, 8)}
    assert {r.table for r in rows if r.paper == "sum"} == {f"Table {n}" for n in range(1, 20)}


def test_rows_use_the_vocabularies(rows):
    assert {r.condition for r in rows} <= CONDITIONS
    assert {r.metric for r in rows} <= set(METRICS)
    assert {r.dataset for r in rows} <= set(DATASETS)
    assert {r.unit for r in rows} <= set(UNITS)
    assert {r.paper for r in rows} <= set(PAPERS)


def test_protocol_fields():
    r = ReportedRow("sum", "Table 13", "HQ-SAM", "coift", "eval", "clear", 0, "box@6/single", "mIoU", "95.9",
                    "percent")
    assert (r.prompt, r.rounds, r.single_output, r.percent) == ("box", 6, True, 95.9)
    r = dataclasses.replace(r, protocol="point", printed="0.8194", unit="fraction")
    assert (r.prompt, r.rounds, r.single_output) == ("point", 1, False)
    assert r.percent == pytest.approx(81.94)


def test_every_value_is_printed_in_its_seed(rows, seeds):
    assert not_printed(rows, seeds) == []


def test_every_table_is_in_printed_order(rows, seeds):
    assert tables_out_of_place(rows, seeds) == []


def test_a_mistyped_or_misplaced_number_is_caught(rows, seeds):
    table = [r for r in rows if (r.paper, r.table) == ("robustsam", "Table 2")]
    i = next(k for k, r in enumerate(table) if r.printed == "0.8609")  # RobustSAM, degraded IoU
    typo = dataclasses.replace(table[i], printed="0.8690")
    assert not_printed([typo], seeds) == [typo]
    assert tables_out_of_place(table, seeds) == []
    table[i], table[i + 1] = table[i + 1], table[i]
    assert tables_out_of_place(table, seeds) == ["robustsam Table 2"]


def test_robustsam_average_is_degraded_and_clear_weighted_15_to_1(rows):
    cells = defaultdict(dict)
    for r in rows:
        if r.paper == "robustsam" and r.condition in ("degraded", "clear", "average"):
            cells[(r.table, r.model, r.metric)][r.condition] = r.value
    full = [c for c in cells.values() if len(c) == 3]
    assert len(full) == 30  # Tables 2-4: 5 models x (IoU, PA)
    for c in full:
        assert c["average"] == pytest.approx((15 * c["degraded"] + c["clear"]) / 16, abs=1.1e-4)


def test_sum_averages_match_their_datasets(rows):
    """SUM averages per task over its datasets and overall over all 14 sets (Sec. 4.1); printed to 0.1."""
    cells = defaultdict(dict)
    for r in rows:
        if r.paper == "sum":
            cells[(r.table, r.model, r.protocol, r.metric)][r.dataset] = r.value
    checked = 0
    for c in cells.values():
        for agg, parts in SUM_SETS.items():
            if agg in c and all(p in c for p in parts):
                assert c[agg] == pytest.approx(sum(c[p] for p in parts) / len(parts), abs=0.1)
                checked += 1
            elif agg == "sum_all" and agg in c and all(t in c for t in ("sum_salient", "sum_entity", "sum_part")):
                weighted = (6 * c["sum_salient"] + 3 * c["sum_entity"] + 5 * c["sum_part"]) / 14
                assert c[agg] == pytest.approx(weighted, abs=0.1)
                checked += 1
    assert checked == 422


def test_same_cell_agrees_across_tables(rows):
    """A (model, dataset, condition, protocol, metric) printed in two tables has one value."""
    seen = defaultdict(set)
    for r in rows:
        seen[(r.paper, r.model, r.dataset, r.split, r.condition, r.protocol, r.metric)].add((r.table, r.printed))
    assert [k for k, v in seen.items() if len({printed for _, printed in v}) > 1] == []
    assert sum(len(v) > 1 for v in seen.values()) == 133  # cells printed in more than one table


def test_dice_above_its_iou_bound_is_flagged(rows):
    """Per instance Dice = 2IoU/(1+IoU) is concave, so mean Dice <= 2m/(1+m) for mean IoU m."""
    pairs = defaultdict(dict)
    for r in rows:
        if r.metric in ("mIoU", "mDice"):
            pairs[(r.paper, r.table, r.model, r.dataset, r.condition, r.protocol)][r.metric] = r
    impossible = [p["mDice"] for p in pairs.values()
                  if len(p) == 2 and p["mDice"].value > 2 * p["mIoU"].value / (1 + p["mIoU"].value) + 1e-4]
    assert [(r.table, r.model, r.printed) for r in impossible] == [("Table 6", "RobustSAM", "0.8926")]
    assert all(r.note.startswith("IMPLAUSIBLE") for r in impossible)


def test_synthetic_conditions_match_the_corruption_registry():
    from corruptions.registry import list_corruptions

    assert len(SYNTHETIC_CONDITIONS) == 15
    assert {c.name for c in list_corruptions("robustsam")} <= set(SYNTHETIC_CONDITIONS)


@pytest.mark.parametrize("field,bad,message", [
    ("condition", "haze", "unknown condition 'haze'"),
    ("metric", "IoU@90", "unknown metric"),
    ("value", "0.8l94", "not a printed decimal"),
    ("value", "81.94", "exceeds the range of unit 'fraction'"),
    ("model", "", "empty 'model'"),
    ("protocol", "point3", "does not match"),
    ("table", "Tab. 2", "not of the form 'Table N'"),
])
def test_bad_csv_names_file_line_and_problem(tmp_path, field, bad, message):
    good = dict(zip(COLUMNS, ["robustsam", "Table 2", "SAM", "msra10k", "test", "degraded", "0", "point", "mIoU",
                              "0.8194", "fraction", ""]))
    path = tmp_path / "paper.csv"
    lines = [",".join(COLUMNS), ",".join(good.values()), ",".join({**good, field: bad}.values())]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ReportedDataError, match=rf"paper\.csv:3: .*{re.escape(message)}"):
        read_csv(path)
    path.write_text("\n".join(lines[:2]) + "\n")
    assert read_csv(path)[0].printed == "0.8194"


def test_suites_cover_every_transcribed_table_once(rows):
    from benchmark.report.reported.suites import load_suites

    suites = load_suites()
    owners = defaultdict(list)
    for s in suites:
        for t in s.tables:
            owners[(s.paper, t)].append(s.name)
    assert {(r.paper, r.table) for r in rows} == set(owners)
    assert all(len(v) == 1 for v in owners.values())
    assert {s.paper for s in suites} == set(PAPERS)


def test_suite_rows_stay_inside_their_suite(rows):
    from benchmark.report.reported.suites import load_suites

    for s in load_suites():
        got = s.reported(rows)
        assert bool(got) == bool(s.tables), s.name
        datasets = {d.dataset for d in s.datasets} | set(s.aggregates)
        for field, allowed in (("dataset", datasets), ("condition", set(s.conditions)),
                               ("protocol", set(s.protocols)), ("metric", set(s.metrics)),
                               ("model", {m.name for m in s.models})):
            assert {getattr(r, field) for r in got} <= allowed, (s.name, field)


def test_suite_sources_are_registered():
    from benchmark.report.reported.suites import load_suites
    from benchmark.data.sources import catalog  # noqa: F401  (registers the built-in sources)
    from benchmark.data.sources.base import list_sources

    known = {info.name for info in list_sources()}
    named = {src for s in load_suites() for d in s.datasets for src in d.sources}
    assert named and named <= known


def test_bad_suite_names_file_and_suite(tmp_path):
    from benchmark.report.reported.suites import load_suites

    good = json.loads((DATA_DIR / "suites.json").read_text())
    bad = good["suites"][0] | {"metrics": ["mIoU", "IoU@50"]}
    path = tmp_path / "suites.json"
    path.write_text(json.dumps({"suites": [bad]}))
    with pytest.raises(ReportedDataError, match=r"suites\.json: suite 'robustsam_seen_msra10k_point': .*IoU@50"):
        load_suites(path)
