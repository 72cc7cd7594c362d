"""Reproduction suites as data: each seed table as datasets, conditions, protocols, metrics and models.

``suites.json`` says what a rerun needs; this module reads and validates it, and finds each suite's
reported rows, so ``robustseg reproduce`` can list inputs and put reported beside reproduced numbers.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from . import DATA_DIR, ReportedDataError, ReportedRow
from .vocab import CONDITIONS, DATASETS, METRICS, PAPERS, PROTOCOL_RE

PROFILES = ("robustsam", "clear", "real")  # real: conditions come from the source itself


@dataclass(frozen=True)
class SuiteDataset:
    dataset: str
    sources: tuple[str, ...]  # robustseg source names pooled into this dataset; empty = no reader yet
    split: str
    profile: str
    note: str = ""


@dataclass(frozen=True)
class SuiteModel:
    name: str  # as in the reported rows
    registry: tuple[str, ...]  # robustseg model names that may stand for it (backbone choices)
    weights: str  # "public" or why a rerun cannot load it
    note: str = ""


@dataclass(frozen=True)
class Suite:
    name: str
    paper: str
    tables: tuple[str, ...]
    title: str
    datasets: tuple[SuiteDataset, ...]
    aggregates: tuple[str, ...]  # pooled datasets the paper prints beside per-dataset numbers
    conditions: tuple[str, ...]
    protocols: tuple[str, ...]
    metrics: tuple[str, ...]
    models: tuple[SuiteModel, ...]
    ambiguities: tuple[str, ...]
    statistics: str = ""

    def reported(self, rows: list[ReportedRow]) -> list[ReportedRow]:
        """The reported rows of this suite's tables."""
        return [r for r in rows if r.paper == self.paper and r.table in self.tables]


def _suite(d: dict, where: str) -> Suite:
    def bad(what: str) -> ReportedDataError:
        return ReportedDataError(f"{where}: suite {d.get('name', '?')!r}: {what}")

    try:
        s = Suite(d["name"], d["paper"], tuple(d["tables"]), d["title"],
                  tuple(SuiteDataset(x["dataset"], tuple(x["sources"]), x["split"], x["profile"], x.get("note", ""))
                        for x in d["datasets"]),
                  tuple(d.get("aggregates", ())), tuple(d["conditions"]), tuple(d["protocols"]), tuple(d["metrics"]),
                  tuple(SuiteModel(x["name"], tuple(x["registry"]), x["weights"], x.get("note", ""))
                        for x in d["models"]),
                  tuple(d["ambiguities"]), d.get("statistics", ""))
    except KeyError as e:
        raise bad(f"missing field {e}") from None
    if s.paper not in PAPERS:
        raise bad(f"unknown paper {s.paper!r}")
    for ds in s.datasets:
        if ds.dataset not in DATASETS:
            raise bad(f"unknown dataset {ds.dataset!r}")
        if ds.profile not in PROFILES:
            raise bad(f"dataset {ds.dataset!r}: profile {ds.profile!r} not in {PROFILES}")
    for name, values, known in (("aggregate", s.aggregates, DATASETS), ("condition", s.conditions, CONDITIONS),
                                ("metric", s.metrics, METRICS)):
        unknown = [v for v in values if v not in known]
        if unknown:
            raise bad(f"unknown {name}(s) {unknown}")
    unknown = [p for p in s.protocols if not PROTOCOL_RE.match(p)]
    if unknown:
        raise bad(f"protocol(s) {unknown} do not match <point|box|boundary_point>[@rounds][/single]")
    return s


def load_suites(path: str | Path = DATA_DIR / "suites.json") -> list[Suite]:
    """Every suite, validated against the vocabularies; names are unique."""
    path = Path(path)
    suites = [_suite(d, str(path)) for d in json.loads(path.read_text(encoding="utf-8"))["suites"]]
    names = [s.name for s in suites]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ReportedDataError(f"{path}: duplicate suite names {dupes}")
    return suites
