"""Leaderboards: results -> one CSV, markdown table and plot per track, plus paired tests.

Tracks: ``robustseg_box``, ``robustseg_point`` (one-shot prompts on synthetic degradations),
``interactive`` (per-click mIoU/mBIoU, NoC), ``ap`` (COCO AP family), ``real_degradations``
(sources with real conditions), ``uncertainty``, ``semantic`` (mIoU/mAcc/aAcc of semantic models from summed
confusion matrices, per-class IoU in ``semantic_classes.csv``). Measured rows come from result files; the papers'
printed numbers enter as rows marked ``reported`` with paper and table. Order and number format are
fixed so that a regenerated CSV diffs cleanly."""
from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..jobs import atomic_write_text
from ..vocab import METRIC_ORDER, PERCENT_METRICS, is_real_source
from ..vocab import format_value as _fmt
from . import plots as plotting
from .aggregate import all_cells
from . import semantic
from .results import results_frame, semantic_classes
from .significance import paired_tests, write_tests_csv

TRACKS = {"box": "robustseg_box", "point": "robustseg_point"}
POOLED = ("clear", "average", "degraded", "real")  # reported pseudo-conditions: not degradations to average
BASE_COLUMNS = ["track", "dataset", "model", "kind", "protocol", "condition", "severity", "instances"]


@dataclass(frozen=True)
class Row:
    track: str
    dataset: str
    model: str
    kind: str  # "measured" or "reported"
    protocol: str
    condition: str
    severity: int
    instances: int  # 0 for reported rows: the papers do not say
    values: dict  # label -> value in percent (NoC: clicks)
    paper: str = ""
    table: str = ""
    ci: dict = field(default_factory=dict)  # label -> (low, high), bootstrap 95%, measured rows only

    def sort_key(self):
        return (self.track, self.dataset, self.kind != "measured", self.paper, self.table, self.model,
                self.protocol, self.condition != "clear", self.condition, self.severity)


def reported_track(r) -> str:
    """Which leaderboard a paper's number belongs on."""
    if r.metric.startswith("AP"):
        return "ap"
    if r.metric in ("AUROC", "AURC", "E-AURC", "PAvPU", "ECE"):
        return "uncertainty"
    if r.condition == "real" or all(is_real_source(d) for d in r.dataset.split("+")):
        return "real_degradations"
    if r.rounds > 1 or r.paper == "sum":
        return "interactive"
    return TRACKS.get(r.prompt, f"robustseg_{r.prompt}")


def reported_rows() -> list[Row]:
    """The seed papers' printed numbers, one leaderboard row per (paper, table, model, cell)."""
    from .reported import load_reported

    groups: dict[tuple, dict] = {}
    for r in load_reported():
        key = (reported_track(r), r.dataset, r.model, r.protocol, r.condition, r.severity, r.paper, r.table)
        groups.setdefault(key, {})[r.metric] = r.percent if r.metric in PERCENT_METRICS else r.value
    return [Row(t, d, m, "reported", p, c, s, 0, v, paper, table) for (t, d, m, p, c, s, paper, table), v in groups.items()]


def _measured(df) -> list[Row]:
    return [Row(c.track, c.dataset, c.model, "measured", c.protocol, c.condition, c.severity, c.instances, c.values,
                ci=c.ci) for c in all_cells(df)]


def measured_rows(results_dirs: list[str | os.PathLike]) -> list[Row]:
    """Every measured cell of every track (means in percent with bootstrap CIs, gaps, AP, NoC, ...)."""
    return _measured(results_frame(results_dirs))


def metric_columns(rows: list[Row]) -> list[str]:
    present = {k for r in rows for k in r.values}
    return [m for m in METRIC_ORDER if m in present]


def write_csv(rows: list[Row]) -> str:
    """Stable order and number format (2 decimals). Each mean with a CI gets ``<label>_lo``/``_hi``."""
    cols = metric_columns(rows)
    with_ci = {k for r in rows for k in r.ci}
    header = BASE_COLUMNS[:]
    for c in cols:
        header += [c, f"{c}_lo", f"{c}_hi"] if c in with_ci else [c]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header + ["paper", "table"])
    for r in sorted(rows, key=Row.sort_key):
        cells = []
        for c in cols:
            cells.append(_fmt(r.values.get(c)))
            if c in with_ci:
                lo, hi = r.ci.get(c, (None, None))
                cells += [_fmt(lo), _fmt(hi)]
        w.writerow([r.track, r.dataset, r.model, r.kind, r.protocol, r.condition, r.severity, r.instances, *cells,
                    r.paper, r.table])
    return buf.getvalue()


def _split(r: Row) -> str:
    return r.condition if r.severity == 0 else f"{r.condition}_{r.severity}"


def write_markdown(track: str, rows: list[Row], metric: str = "mIoU") -> str:
    """Per dataset: models x conditions, plus the mean over degraded conditions and the gap to clear."""
    lines = [f"# {track} ({metric}{'' if metric.startswith('NoC') else ', %'})", "",
             "`measured` rows come from results in this repository's runs; `reported` rows are numbers printed "
             "in the papers (paper, table), never re-measured here. CSV: every metric, with bootstrap 95% "
             "intervals for measured means.", ""]
    for dataset in sorted({r.dataset for r in rows}):
        rs = [r for r in rows if r.dataset == dataset and metric in r.values]
        if not rs:
            continue
        conds = sorted({_split(r) for r in rs}, key=lambda c: (c != "clear", c))
        lines += [f"## {dataset}", "", "| model | protocol | kind | " + " | ".join(conds) + " | degraded mean | gap |",
                  "|---|---|---|" + "---:|" * (len(conds) + 2)]
        entries = sorted({(r.kind, r.paper, r.table, r.model, r.protocol) for r in rs},
                         key=lambda e: (e[0] != "measured", *e[1:]))
        for kind, paper, table, model, protocol in entries:
            cell = {_split(r): r.values.get(metric) for r in rs
                    if (r.kind, r.paper, r.table, r.model, r.protocol) == (kind, paper, table, model, protocol)}
            degraded = [v for c, v in cell.items() if c not in POOLED and v is not None]
            mean_deg = float(np.mean(degraded)) if degraded else cell.get("degraded")
            gap = cell["clear"] - mean_deg if cell.get("clear") is not None and mean_deg is not None else None
            label = kind if kind == "measured" else f"reported ({paper} {table})"
            lines.append(f"| {model} | {protocol} | {label} | " + " | ".join(_fmt(cell.get(c)) for c in conds)
                         + f" | {_fmt(mean_deg)} | {_fmt(gap)} |")
        lines.append("")
    return "\n".join(lines)


def _provenance(df) -> dict:
    from .site import ModelProvenance

    return {m: ModelProvenance(tuple(sorted(g.checkpoint_sha256.fillna("").unique())), tuple(sorted(g.dataset.unique())))
            for m, g in df.groupby("model", sort=True)}


def build_leaderboards(results_dirs: list[str | os.PathLike], out: str | os.PathLike, plots: bool = True,
                       reported: bool = True, allow_incomplete: bool = False,
                       allow_random_weights: bool = False, html: str | os.PathLike | None = None,
                       reference_model: str | None = None) -> list[Path]:
    """Regenerate every track's CSV, markdown, plots and paired tests under ``out``; returns the files
    written. ``reported`` adds the papers' printed numbers as rows marked ``reported``; results made on
    random weights are refused unless ``allow_random_weights`` (then labelled in the model name). Tracks
    with graded corruptions also get ``<track>_corruptions.csv/.md`` (per-corruption means; CE, mCE and
    relative mCE against ``reference_model``). ``html``: also write the static web leaderboard there."""
    from .corruption_summary import summarise, summary_csv, summary_markdown

    out = Path(out)
    df = results_frame(results_dirs, allow_incomplete, allow_random_weights)
    sem = results_frame(results_dirs, allow_incomplete, allow_random_weights, task="semantic")
    cells = semantic.semantic_cells(sem)
    rows = (_measured(df) if len(df) else []) + [Row(semantic.TRACK, c.dataset, c.model, "measured", "semantic",
                                                     c.condition, c.severity, c.images, c.values, ci=c.ci)
                                                 for c in cells] + (reported_rows() if reported else [])
    tests = (paired_tests(df) if len(df) else []) + semantic.semantic_tests(sem)
    written, pages = [], []
    if cells:
        path = out / f"{semantic.TRACK}_classes.csv"
        atomic_write_text(path, semantic.write_class_csv(cells, semantic_classes(results_dirs)))
        written.append(path)
    for track in sorted({r.track for r in rows}):
        rs = sorted((r for r in rows if r.track == track), key=Row.sort_key)
        metric = next((m for m in ("mIoU", "AP", "NoC90", "AUROC") if any(m in r.values for r in rs)), "mIoU")
        files = {f"{track}.csv": write_csv(rs), f"{track}.md": write_markdown(track, rs, metric)}
        ts = [t for t in tests if t.track == track]
        if ts:
            files[f"{track}_wilcoxon.csv"] = write_tests_csv(ts)
        summaries = summarise([r for r in rs if r.kind == "measured"], reference_model)
        if summaries:
            files[f"{track}_corruptions.csv"] = summary_csv(summaries)
            files[f"{track}_corruptions.md"] = summary_markdown(track, summaries)
        for name, text in files.items():
            atomic_write_text(out / name, text)
            written.append(out / name)
        figures = plotting.plot_track(track, [r for r in rs if r.kind == "measured"], out) if plots else {}
        written += [p for ps in figures.values() for p in ps]
        pages.append((track, rs, ts, figures, summaries, sorted(files)))
    if html is not None:
        from .site import TrackData, write_site

        written += write_site(html, [TrackData(t, rs, metric_columns(rs), ts, figs, sm, names)
                                     for t, rs, ts, figs, sm, names in pages], _provenance(df), out)
    return written
