"""Reproduced numbers per printed cell, from the result rows; means and AP come from ``report.aggregate``'s
definitions, so a reproduction and a leaderboard compute a metric the same way."""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ...vocab import AP_LABELS, COLUMN_OF, SYNTHETIC_CONDITIONS
from ..aggregate import frame_ap
from ..reported import ReportedRow
from ..reported.suites import Suite
from ..results import RANDOM_WEIGHTS_LABEL
from .semantic import semantic_metric
from .status import SuiteStatus

NOT_ADVERSE = ("clear", "undefined", "reference")  # conditions a pooled "real" leaves out
CONDITION_ALIASES = {"rainy": "rain", "snowy": "snow", "foggy": "fog"}  # BDD100K weather -> vocabulary


@dataclass
class Cell:
    """One printed (or, for suites without tables, one planned) number and its reproduction."""

    suite: str
    paper: str
    table: str
    model: str
    our_model: str
    dataset: str
    condition: str
    protocol: str
    our_protocol: str
    round: int
    match: str
    metric: str
    printed: str
    reported: Optional[float]  # percent (NoC: clicks)
    reproduced: Optional[float]
    instances: int  # instances scored (semantic suites: images)
    note: str
    data: str = ""  # which data the reproduced number used: source:split images/instances sha256 (see provenance)

    @property
    def difference(self) -> Optional[float]:
        return None if self.reported is None or self.reproduced is None else self.reproduced - self.reported


def _condition_parts(condition: str) -> set[str]:
    rest, parts = condition, set()
    if "dawn_dusk" in rest:
        parts.add("dawn_dusk")
        rest = rest.replace("dawn_dusk", "")
    return parts | {CONDITION_ALIASES.get(p, p) for p in rest.split("_") if p}


def select_condition(df, condition: str):
    """Rows of one condition; ``degraded`` pools the 15 Robust-Seg degradations, ``real`` every
    adverse condition of a source (BDD100K ``undefined`` and ACDC references left out)."""
    conds = df["condition"]
    if condition == "degraded":
        return df[conds.isin(SYNTHETIC_CONDITIONS)]
    if condition == "real":
        return df[~conds.isin(NOT_ADVERSE)]
    if condition == "clear":
        return df[conds == "clear"]
    return df[conds.map(lambda c: c == condition or condition in _condition_parts(c))]


def _ap(df, metric: str) -> tuple[Optional[float], str]:
    if df["gt_rle"].isna().any():
        return None, "AP needs one-shot predictions with masks"
    v = frame_ap(df, by_category=False)[metric]
    return (None, f"no ground truth in the {metric} size range") if np.isnan(v) else (100.0 * v, "")


def _metric(df, metric: str) -> tuple[Optional[float], str]:
    if metric in AP_LABELS:
        return _ap(df, metric)
    col = COLUMN_OF.get(metric)
    if col is None:
        return None, f"robustseg does not compute {metric} here"
    values = df[col].dropna()
    if values.empty:
        return None, "the model gives no uncertainty map" if col in ("unc_auroc", "aurc", "pavpu") else "no values"
    return 100.0 * float(values.mean()), ""


class Tabulator:
    """Computes reproduced numbers for (paper model, dataset, condition, protocol, metric)."""

    def __init__(self, suite: Suite, status: SuiteStatus, builds: Sequence, frames: dict,
                 classes: Optional[dict] = None):
        self.suite, self.frames, self.classes = suite, frames, dict(classes or {})  # classes: semantic builds'
        self.inputs = {(i.kind, i.name): i for i in status.inputs}
        self.builds = {}
        for b in builds:
            self.builds.setdefault(b.dataset, []).append(b.name)

    def our_model(self, model: str) -> str:
        """The robustseg model that stood for ``model``, labelled as leaderboards label random-weight results."""
        st = self.inputs[("model", model)]
        return (st.registry or "") + (RANDOM_WEIGHTS_LABEL if st.random_weights else "")

    def value(self, model: str, dataset: str, condition: str, protocol: str, metric: str
              ) -> tuple[Optional[float], int, str]:
        st = self.inputs[("model", model)]
        if st.state != "present":
            return None, 0, f"model not run: {st.detail}"
        match = self.suite.match(protocol)
        if match.protocol is None:
            return None, 0, f"protocol not reproducible: {match.note}"
        if dataset in self.suite.aggregate_members:
            return self._aggregate(model, dataset, condition, protocol, metric)
        if condition == "average":  # RobustSAM's Average: degraded and clear weighted 15:1
            deg, n_deg, why = self.value(model, dataset, "degraded", protocol, metric)
            clear, n_clear, why_clear = self.value(model, dataset, "clear", protocol, metric)
            if deg is None or clear is None:
                return None, 0, why or why_clear
            return (15 * deg + clear) / 16, n_deg + n_clear, ""
        ds = self.inputs[("dataset", dataset)]
        if ds.state != "present":
            return None, 0, f"dataset not run: {ds.detail}"
        import pandas as pd

        df = pd.concat([self.frames[(st.registry, b, match.protocol)] for b in self.builds[dataset]],
                       ignore_index=True)
        if self.suite.task == "semantic":  # one row per image, no rounds; numbers from the summed matrix
            df = select_condition(df, condition)
            if df.empty:
                return None, 0, f"no images with condition {condition!r}"
            v, why = semantic_metric(df, self.classes[self.builds[dataset][0]], metric)
            return v, len(df), why
        df = select_condition(df[df["round"] == match.round], condition)
        if df.empty:
            return None, 0, f"no instances with condition {condition!r}"
        v, why = _metric(df, metric)
        return v, len(df), why

    def _aggregate(self, model, dataset, condition, protocol, metric):
        members = self.suite.aggregate_members[dataset]
        got = [self.value(model, m, condition, protocol, metric) for m in members]
        lacking = [m for m, (v, _, _) in zip(members, got) if v is None]
        if lacking:
            return None, 0, f"mean over {len(members)} datasets; not reproduced: {', '.join(lacking)}"
        return float(np.mean([v for v, _, _ in got])), sum(n for _, n, _ in got), ""


def cells_of(suite: Suite, tab: Tabulator, reported: Sequence[ReportedRow]) -> list[Cell]:
    def cell(table, model, dataset, condition, protocol, metric, printed, rep):
        m = suite.match(protocol)
        v, n, why = tab.value(model, dataset, condition, protocol, metric)
        note = why or ("" if m.match == "exact" else f"{m.match} protocol: {m.note}")
        return Cell(suite.name, suite.paper, table, model, tab.our_model(model), dataset, condition, protocol,
                    m.protocol or "", m.round, m.match, metric, printed, rep, v, n, note)

    if reported:
        return [cell(r.table, r.model, r.dataset, r.condition, r.protocol, r.metric, r.printed, r.percent)
                for r in reported]
    datasets = [d.dataset for d in suite.datasets] + list(suite.aggregates)
    return [cell("", m.name, d, c, p, k, "", None)
            for m, d, c, p, k in itertools.product(suite.models, datasets, suite.conditions, suite.protocols,
                                                    suite.scalar_metrics)]


def statistics(suite: Suite, cells: Sequence[Cell]) -> list[dict]:
    """Wilcoxon signed-rank across datasets (one pair per dataset), for every pair of reproduced models."""
    from ..stats import across_datasets

    rows = []
    plain = [c for c in cells if c.reproduced is not None and c.dataset not in suite.aggregate_members]
    for metric, protocol, condition in itertools.product(suite.scalar_metrics, suite.protocols, suite.conditions):
        per_model: dict[str, dict[str, float]] = {}
        for c in plain:
            if (c.metric, c.protocol, c.condition) == (metric, protocol, condition):
                per_model.setdefault(f"{c.model} [{c.our_model}]", {})[c.dataset] = c.reproduced
        for a, b in itertools.combinations(sorted(per_model), 2):
            t = across_datasets(per_model[a], per_model[b])
            rows.append({"metric": metric, "protocol": protocol, "condition": condition, "model_a": a, "model_b": b,
                         "datasets": t.n, "mean_diff": t.mean_diff, "statistic": t.statistic, "pvalue": t.pvalue,
                         "effect_size": t.effect_size})
    return rows
