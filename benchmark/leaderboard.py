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

METRICS = (("iou", "mIoU"), ("dice", "mDice"), ("pixel_accuracy", "mPA"))
TRACKS = {"box": "robustseg_box", "point": "robustseg_point"}
COLUMNS = ["track", "dataset", "model", "kind", "protocol", "condition", "severity", "instances",
           *[label for _, label in METRICS], "paper", "table"]


@dataclass(frozen=True)
class Row:
    track: str
    dataset: str
    model: str
    kind: str  # "measured" or "reported"
    protocol: str
    condition: str
    severity: int
    instances: int
    values: dict  # label -> value in percent
    paper: str = ""
    table: str = ""

    def sort_key(self):
        return (self.track, self.dataset, self.kind != "measured", self.model, self.condition != "clear",
                self.condition, self.severity)


def _fmt(v) -> str:
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.2f}"


def measured_rows(results_dirs: list[str | os.PathLike]) -> list[Row]:
    """Means per (dataset, model, protocol, condition, severity), in percent."""
    import pyarrow as pa

    table = pa.concat_tables([read_results(d) for d in results_dirs])
    df = table.to_pandas()
    rows = []
    keys = ["dataset", "model", "protocol", "condition", "severity"]
    for key, g in df.groupby(keys, sort=True):
        dataset, model, protocol, condition, severity = key
        values = {label: 100.0 * float(g[col].mean()) for col, label in METRICS}
        track = TRACKS.get(protocol, f"robustseg_{protocol}")
        rows.append(Row(track, dataset, model, "measured", protocol, condition, int(severity), len(g), values))
    return rows


def write_csv(rows: list[Row]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in sorted(rows, key=Row.sort_key):
        w.writerow([r.track, r.dataset, r.model, r.kind, r.protocol, r.condition, r.severity, r.instances,
                    *[_fmt(r.values.get(label)) for _, label in METRICS], r.paper, r.table])
    return buf.getvalue()


def _split(r: Row) -> str:
    return r.condition if r.severity == 0 else f"{r.condition}_{r.severity}"


def write_markdown(track: str, rows: list[Row], metric: str = "mIoU") -> str:
    """Per dataset: models x conditions, plus the mean over degraded conditions and the gap to clear."""
    lines = [f"# {track} ({metric}, %)", ""]
    for dataset in sorted({r.dataset for r in rows}):
        rs = [r for r in rows if r.dataset == dataset]
        conds = sorted({_split(r) for r in rs}, key=lambda c: (c != "clear", c))
        lines += [f"## {dataset}", "", "| model | kind | " + " | ".join(conds) + " | degraded mean | gap |",
                  "|---|---|" + "---:|" * (len(conds) + 2)]
        for (model, kind) in sorted({(r.model, r.kind) for r in rs}, key=lambda mk: (mk[1] != "measured", mk[0])):
            cell = {_split(r): r.values.get(metric) for r in rs if r.model == model and r.kind == kind}
            degraded = [v for c, v in cell.items() if c != "clear" and v is not None]
            mean_deg = float(np.mean(degraded)) if degraded else None
            gap = cell["clear"] - mean_deg if cell.get("clear") is not None and mean_deg is not None else None
            lines.append(f"| {model} | {kind} | " + " | ".join(_fmt(cell.get(c)) for c in conds)
                         + f" | {_fmt(mean_deg)} | {_fmt(gap)} |")
        lines.append("")
    return "\n".join(lines)


def plot_track(track: str, rows: list[Row], path: Path, metric: str = "mIoU") -> None:
    """Per-condition bars, one group per condition, one bar per measured model (first dataset)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rs = [r for r in rows if r.kind == "measured"]
    if not rs:
        return
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


def build_leaderboards(results_dirs: list[str | os.PathLike], out: str | os.PathLike, plots: bool = True) -> list[Path]:
    """Regenerate every track's CSV, markdown and plot under ``out``; returns the files written."""
    out = Path(out)
    rows = measured_rows(results_dirs)
    written = []
    for track in sorted({r.track for r in rows}):
        rs = [r for r in rows if r.track == track]
        atomic_write_text(out / f"{track}.csv", write_csv(rs))
        atomic_write_text(out / f"{track}.md", write_markdown(track, rs))
        written += [out / f"{track}.csv", out / f"{track}.md"]
        if plots:
            plot_track(track, rs, out / f"{track}.png")
            written.append(out / f"{track}.png")
    return written
