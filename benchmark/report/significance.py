"""Paired Wilcoxon signed-rank tests between models on the same instances, Holm-corrected."""
from __future__ import annotations

import csv
import io
import itertools
from dataclasses import dataclass, replace

import pandas as pd

from ..eval.protocols import EVAL_PROTOCOLS
from ..vocab import track_of
from . import stats
from .aggregate import CELL_KEYS

COLUMNS = ["track", "dataset", "protocol", "condition", "severity", "metric", "model_a", "model_b", "n",
           "mean_diff", "statistic", "p", "p_holm", "effect_size"]


@dataclass(frozen=True)
class TestRow:
    track: str
    dataset: str
    protocol: str
    condition: str
    severity: int
    metric: str
    model_a: str
    model_b: str
    test: stats.PairedTest


def _final_rounds(df: pd.DataFrame) -> pd.DataFrame:
    """One score per instance: round 1 of one-shot protocols, the last click of interactive ones."""
    clicks = df.protocol.map(lambda p: EVAL_PROTOCOLS[p].clicks if p in EVAL_PROTOCOLS else 0)
    last = df[clicks > 0].groupby(["model", "dataset", "protocol", "condition", "severity", "image_id", "object_id"])[
        "round"].transform("max")
    return pd.concat([df[clicks == 0], df[clicks > 0][df[clicks > 0]["round"] == last]])


def paired_tests(df: pd.DataFrame, metric: str = "iou") -> list[TestRow]:
    """Every pair of models on every (dataset, protocol, condition, severity) they share, matched on
    (image_id, object_id); then, per track and model pair, across datasets on per-dataset means (as
    RUAC does) where two or more datasets exist. Holm correction over each (track, model pair) family."""
    df = _final_rounds(df)
    rows: list[TestRow] = []
    cell_keys = [k for k in CELL_KEYS if k != "model"]
    for key, g in df.groupby(cell_keys, sort=True):
        dataset, protocol, condition, severity = key
        by_model = {m: gm for m, gm in g.groupby("model", sort=True)}
        track = track_of(protocol, g.source.iloc[0])
        for a, b in itertools.combinations(sorted(by_model), 2):
            ga, gb = by_model[a], by_model[b]
            va, vb, _ = stats.match_pairs(list(zip(ga.image_id, ga.object_id)), ga[metric].to_numpy(),
                                          list(zip(gb.image_id, gb.object_id)), gb[metric].to_numpy(), str(key))
            if va.size:
                rows.append(TestRow(track, dataset, protocol, condition, int(severity), metric, a, b,
                                    stats.paired_wilcoxon(va, vb)))
    means = df.groupby(["model", "protocol", "dataset"])[metric].mean()
    for protocol in sorted(df.protocol.unique()):
        models = sorted(df[df.protocol == protocol].model.unique())
        for a, b in itertools.combinations(models, 2):
            ma, mb = means[a][protocol].to_dict(), means[b][protocol].to_dict()
            if len(set(ma) & set(mb)) >= 2:
                track = track_of(protocol, "")
                rows.append(TestRow(track, "(across datasets)", protocol, "all", 0, metric, a, b,
                                    stats.across_datasets(ma, mb)))
    out = []
    families: dict[tuple, list[int]] = {}
    for i, r in enumerate(rows):
        families.setdefault((r.track, r.model_a, r.model_b), []).append(i)
    adjusted = {}
    for idx in families.values():
        for i, t in zip(idx, stats.holm_family([rows[i].test for i in idx])):
            adjusted[i] = t
    for i, r in enumerate(rows):
        out.append(replace(r, test=adjusted[i]))
    return out


def write_tests_csv(rows: list[TestRow]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    f = lambda v: f"{v:.4g}"  # noqa: E731
    for r in sorted(rows, key=lambda r: (r.track, r.dataset, r.protocol, r.condition != "clear", r.condition,
                                         r.severity, r.model_a, r.model_b)):
        t = r.test
        w.writerow([r.track, r.dataset, r.protocol, r.condition, r.severity, r.metric, r.model_a, r.model_b, t.n,
                    f(t.mean_diff), f(t.statistic), f(t.pvalue), f(t.p_holm), f(t.effect_size)])
    return buf.getvalue()
