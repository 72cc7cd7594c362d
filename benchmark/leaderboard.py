"""Leaderboards: per-instance results -> one CSV (+ markdown, + plot) per track, stable for diffs."""
from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .evaluate import read_results
from .fsutil import atomic_write_bytes, atomic_write_text

#: result column -> leaderboard label, for per-instance metrics averaged over instances (in percent)
MEAN_METRICS = {"iou": "mIoU", "dice": "mDice", "pixel_accuracy": "mPA", "biou": "mBIoU"}
#: every label a leaderboard may show, in column order
METRIC_ORDER = ("mIoU", "mDice", "mPA", "mBIoU", "AP", "AP50", "AP75", "APs", "APm", "APl", "NoC85", "NoC90",
                "AUROC", "AURC", "E-AURC", "PAvPU", "ECE")
TRACKS = {"box": "robustseg_box", "point": "robustseg_point"}
REAL_DATASETS = ("bdd100k", "lis", "acdc", "bdd100k+lis")
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

    def sort_key(self):
        return (self.track, self.dataset, self.kind != "measured", self.paper, self.table, self.model,
                self.protocol, self.condition != "clear", self.condition, self.severity)


def reported_track(r) -> str:
    """Which leaderboard a paper's number belongs on."""
    if r.metric.startswith("AP"):
        return "ap"
    if r.metric in ("AUROC", "AURC", "E-AURC", "PAvPU", "ECE"):
        return "uncertainty"
    if r.dataset in REAL_DATASETS or r.condition == "real":
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
        groups.setdefault(key, {})[r.metric] = r.percent if r.metric in METRIC_ORDER[:10] else r.value
    return [Row(t, d, m, "reported", p, c, s, 0, v, paper, table) for (t, d, m, p, c, s, paper, table), v in groups.items()]


def _fmt(v) -> str:
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.2f}"


def measured_rows(results_dirs: list[str | os.PathLike]) -> list[Row]:
    """Means per (dataset, model, protocol, condition, severity), in percent."""
    import pyarrow as pa

    table = pa.concat_tables([read_results(d) for d in results_dirs])
    df = table.to_pandas()
    rows = []
    keys = ["dataset", "model", "protocol", "condition", "severity"]
    present = [c for c in MEAN_METRICS if c in df.columns]
    for key, g in df.groupby(keys, sort=True):
        dataset, model, protocol, condition, severity = key
        values = {MEAN_METRICS[c]: 100.0 * float(g[c].mean()) for c in present if g[c].notna().any()}
        track = TRACKS.get(protocol, f"robustseg_{protocol}")
        rows.append(Row(track, dataset, model, "measured", protocol, condition, int(severity), len(g), values))
    return rows


def metric_columns(rows: list[Row]) -> list[str]:
    present = {k for r in rows for k in r.values}
    return [m for m in METRIC_ORDER if m in present]


def write_csv(rows: list[Row]) -> str:
    """Stable order and number format (2 decimals), so a regenerated CSV diffs cleanly."""
    cols = metric_columns(rows)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(BASE_COLUMNS + cols + ["paper", "table"])
    for r in sorted(rows, key=Row.sort_key):
        w.writerow([r.track, r.dataset, r.model, r.kind, r.protocol, r.condition, r.severity, r.instances,
                    *[_fmt(r.values.get(c)) for c in cols], r.paper, r.table])
    return buf.getvalue()


def _split(r: Row) -> str:
    return r.condition if r.severity == 0 else f"{r.condition}_{r.severity}"


def write_markdown(track: str, rows: list[Row], metric: str = "mIoU") -> str:
    """Per dataset: models x conditions, plus the mean over degraded conditions and the gap to clear."""
    lines = [f"# {track} ({metric}, %)", "",
             "`measured` rows come from results in this repository's runs; `reported` rows are numbers printed "
             "in the papers (paper, table), never re-measured here.", ""]
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


def plot_track(track: str, rows: list[Row], path: Path, metric: str = "mIoU") -> bool:
    """Per-condition bars, one group per condition, one bar per measured model (first dataset).
    Returns False (and writes nothing) when the track has no measured rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rs = [r for r in rows if r.kind == "measured" and metric in r.values]
    if not rs:
        return False
    dataset = sorted({r.dataset for r in rs})[0]
    rs = [r for r in rs if r.dataset == dataset]
    conds = sorted({_split(r) for r in rs}, key=lambda c: (c != "clear", c))
    models = sorted({r.model for r in rs})
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(conds) * max(1, len(models)) / 1.5), 4), dpi=100)
    width = 0.8 / len(models)
    for k, model in enumerate(models):
        cell = {_split(r): r.values[metric] for r in rs if r.model == model}
        ax.bar(np.arange(len(conds)) + k * width, [cell.get(c, 0.0) for c in conds], width, label=model)
    ax.set_xticks(np.arange(len(conds)) + 0.4 - width / 2, conds, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel(f"{metric} (%)")
    ax.set_title(f"{track}: {dataset}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return True


def build_leaderboards(results_dirs: list[str | os.PathLike], out: str | os.PathLike, plots: bool = True,
                       reported: bool = True) -> list[Path]:
    """Regenerate every track's CSV, markdown and plot under ``out``; returns the files written.
    ``reported`` adds the papers' printed numbers as rows marked ``reported``."""
    out = Path(out)
    rows = measured_rows(results_dirs) + (reported_rows() if reported else [])
    written = []
    for track in sorted({r.track for r in rows}):
        rs = [r for r in rows if r.track == track]
        atomic_write_text(out / f"{track}.csv", write_csv(rs))
        metric = next((m for m in ("mIoU", "AP", "NoC90", "AUROC") if any(m in r.values for r in rs)), "mIoU")
        atomic_write_text(out / f"{track}.md", write_markdown(track, rs, metric))
        written += [out / f"{track}.csv", out / f"{track}.md"]
        if plots and plot_track(track, rs, out / f"{track}.png", metric):
            written.append(out / f"{track}.png")
    return written
