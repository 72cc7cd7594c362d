"""Reproduction suites as data: each seed table as datasets, conditions, protocols, metrics and models.

``suites.json`` says what a rerun needs; this module reads and validates it, and finds each suite's
reported rows, so ``robustseg reproduce`` can list inputs and put reported beside reproduced numbers.
Besides the suites, the file maps each source to the folder it is expected in under ``--data-root``
(``sources``), each paper's prompt protocol to robustseg's (``protocol_map``), and each pooled
dataset a paper prints to its members (``aggregates``), so a rerun needs no knowledge outside it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from . import DATA_DIR, ReportedDataError, ReportedRow
from .vocab import CONDITIONS, DATASETS, METRICS, PAPERS, PROTOCOL_RE, SEMANTIC_METRICS

PROFILES = ("robustsam", "clear", "real")  # real: conditions come from the source itself
MATCHES = ("exact", "approximate", "none")
CLASS_IOU = "class IoU"  # the per-class metric of semantic suites
TASKS = ("instance", "semantic")  # semantic suites: one protocol, "semantic" (no prompts), semantic metrics


@dataclass(frozen=True)
class SourceInput:
    """Where one robustseg source reads its files: ``root`` relative to ``--data-root`` (or absolute;
    None for a source without files, e.g. synthetic), paths that must exist under it (``a|b``: either),
    options, and what to download where (``"<url> -> <path under root>"``) when they are missing."""

    source: str
    root: Optional[str]
    requires: tuple[str, ...] = ()
    options: dict = field(default_factory=dict)
    download: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProtocolMatch:
    """How a paper's protocol is run here: robustseg protocol (None: not runnable) and the round whose
    results stand for it; ``match`` says whether the rules are the paper's or only close to them."""

    paper_protocol: str
    protocol: Optional[str]
    round: int
    match: str
    note: str = ""


@dataclass(frozen=True)
class SuiteDataset:
    dataset: str
    sources: tuple[str, ...]  # robustseg source names pooled into this dataset; empty = no reader yet
    split: str
    profile: str
    note: str = ""
    inputs: tuple[SourceInput, ...] = ()  # one per source, resolved from suites.json "sources"


@dataclass(frozen=True)
class SuiteModel:
    name: str  # as in the reported rows
    registry: tuple[str, ...]  # robustseg model names that may stand for it (backbone choices)
    weights: str  # "public" or why a rerun cannot load it
    note: str = ""
    options: tuple[tuple[str, object], ...] = ()  # model options the paper's evaluation implies (test scale, windows)


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
    matches: tuple[ProtocolMatch, ...] = ()  # one per protocol, same order
    aggregate_members: dict = field(default_factory=dict)  # aggregate dataset -> its member datasets
    task: str = "instance"
    training: tuple[SourceInput, ...] = ()  # data a checkpoint of this suite is trained on (listed, not required)
    training_note: str = ""  # how to train one (e.g. the `robustseg train ecocseg` commands)

    @property
    def scalar_metrics(self) -> tuple[str, ...]:
        """The metrics printed as one number per cell (per-class IoU is a table of its own)."""
        return tuple(m for m in self.metrics if m != CLASS_IOU)

    def match(self, protocol: str) -> ProtocolMatch:
        return next(m for m in self.matches if m.paper_protocol == protocol)

    def reported(self, rows: list[ReportedRow]) -> list[ReportedRow]:
        """The reported rows of this suite's tables."""
        return [r for r in rows if r.paper == self.paper and r.table in self.tables]


def _input(source: str, defaults: dict, override: dict) -> SourceInput:
    spec = {**defaults.get(source, {}), **override.get(source, {})}
    return SourceInput(source, spec["root"], tuple(spec.get("requires", ())), dict(spec.get("options", {})),
                       tuple(spec.get("download", ())))


def _match(paper_protocol: str, spec: dict) -> ProtocolMatch:
    return ProtocolMatch(paper_protocol, spec["protocol"], int(spec["round"]), spec["match"], spec.get("note", ""))


def _suite(d: dict, where: str, catalog: Optional[dict] = None) -> Suite:
    def bad(what: str) -> ReportedDataError:
        return ReportedDataError(f"{where}: suite {d.get('name', '?')!r}: {what}")

    catalog = catalog or {}
    sources, protocol_map = catalog.get("sources", {}), catalog.get("protocol_map", {})
    aggregates = catalog.get("aggregates", {})
    try:
        paper_map = protocol_map.get(d["paper"], {})
        s = Suite(d["name"], d["paper"], tuple(d["tables"]), d["title"],
                  tuple(SuiteDataset(x["dataset"], tuple(x["sources"]), x["split"], x["profile"], x.get("note", ""),
                                     tuple(_input(src, sources, x.get("inputs", {})) for src in x["sources"]
                                           if "sources" in catalog))
                        for x in d["datasets"]),
                  tuple(d.get("aggregates", ())), tuple(d["conditions"]), tuple(d["protocols"]), tuple(d["metrics"]),
                  tuple(SuiteModel(x["name"], tuple(x["registry"]), x["weights"], x.get("note", ""),
                                   tuple(sorted(x.get("options", {}).items())))
                        for x in d["models"]),
                  tuple(d["ambiguities"]), d.get("statistics", ""),
                  tuple(_match(p, paper_map[p]) for p in d["protocols"] if p in paper_map),
                  {a: tuple(aggregates[a]) for a in d.get("aggregates", ()) if a in aggregates},
                  d.get("task", "instance"),
                  tuple(_input(src, sources, d["training"].get("inputs", {})) for src in d["training"]["inputs"]
                        if "sources" in catalog) if "training" in d else (),
                  d.get("training", {}).get("note", ""))
    except KeyError as e:
        hint = ' (each source needs a root in "sources" or in its dataset\'s "inputs")' if e.args == ("root",) else ""
        raise bad(f"missing field {e}{hint}") from None
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
    if s.task not in TASKS:
        raise bad(f"unknown task {s.task!r}; valid: {', '.join(TASKS)}")
    semantic = s.task == "semantic"
    if semantic and (s.protocols != ("semantic",) or not set(s.metrics) <= set(SEMANTIC_METRICS)):
        raise bad(f"a semantic suite has the one protocol 'semantic' and metrics among {', '.join(SEMANTIC_METRICS)}")
    if not semantic and set(s.metrics) & set(SEMANTIC_METRICS):
        raise bad(f"metric(s) {sorted(set(s.metrics) & set(SEMANTIC_METRICS))} are for semantic suites only")
    unknown = [p for p in s.protocols if not semantic and not PROTOCOL_RE.match(p)]
    if unknown:
        raise bad(f"protocol(s) {unknown} do not match <point|box|boundary_point>[@rounds][/single]")
    if "protocol_map" in catalog:
        unmapped = [p for p in s.protocols if p not in paper_map]
        if unmapped:
            raise bad(f"protocol(s) {unmapped} have no entry in protocol_map[{s.paper!r}]")
        bad_match = [m.paper_protocol for m in s.matches
                     if m.match not in MATCHES or (m.protocol is None) != (m.match == "none")]
        if bad_match:
            raise bad(f"protocol_map entries {bad_match}: match must be one of {MATCHES}, and 'none' exactly when "
                      "protocol is null")
        missing = [a for a in s.aggregates if a not in aggregates]
        if missing:
            raise bad(f"aggregate(s) {missing} have no member list in \"aggregates\"")
        for a, members in s.aggregate_members.items():
            if set(members) - {ds.dataset for ds in s.datasets}:
                raise bad(f"aggregate {a!r} has members {sorted(set(members) - {ds.dataset for ds in s.datasets})} "
                          "that are not datasets of the suite")
    return s


def load_suites(path: str | Path = DATA_DIR / "suites.json") -> list[Suite]:
    """Every suite, validated against the vocabularies; names are unique."""
    path = Path(path)
    catalog = json.loads(path.read_text(encoding="utf-8"))
    suites = [_suite(d, str(path), catalog) for d in catalog["suites"]]
    names = [s.name for s in suites]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ReportedDataError(f"{path}: duplicate suite names {dupes}")
    return suites
