"""Leaderboard plots: per-degradation bars, severity curves, per-click curves (matplotlib, Agg)."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..jobs import atomic_write_bytes


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_track(track: str, rows: list, out: Path) -> list[Path]:
    """The plots that fit a track's measured rows (first dataset of the track): bars per condition,
    mIoU against severity where severities exist, mIoU against clicks for interactive rows."""
    if not rows:
        return []
    plt = _pyplot()
    dataset = sorted({r.dataset for r in rows})[0]
    rows = [r for r in rows if r.dataset == dataset]
    written = []
    one_shot = [r for r in rows if "@" not in r.protocol and "mIoU" in r.values]
    if one_shot:
        conds = sorted({r.condition if r.severity == 0 else f"{r.condition}_{r.severity}" for r in one_shot},
                       key=lambda c: (c != "clear", c))
        series = sorted({(r.model, r.protocol) for r in one_shot})
        fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * len(conds) * len(series)), 4), dpi=100)
        width = 0.8 / len(series)
        for k, (model, protocol) in enumerate(series):
            cell = {(r.condition if r.severity == 0 else f"{r.condition}_{r.severity}"): r.values["mIoU"]
                    for r in one_shot if (r.model, r.protocol) == (model, protocol)}
            ax.bar(np.arange(len(conds)) + k * width, [cell.get(c, np.nan) for c in conds], width,
                   label=f"{model} ({protocol})")
        ax.set_xticks(np.arange(len(conds)) + 0.4 - width / 2, conds, rotation=70, ha="right", fontsize=7)
        ax.set_ylabel("mIoU (%)")
        ax.set_title(f"{track}: {dataset}")
        ax.legend(fontsize=7)
        written.append(_save(fig, out / f"{track}.png"))
    graded = [r for r in one_shot if r.severity > 0]
    if graded:
        conditions = sorted({r.condition for r in graded})
        series = sorted({(r.model, r.protocol) for r in graded})
        ncols = min(5, len(conditions))
        nrows = int(np.ceil(len(conditions) / ncols))
        fig, axes = plt.subplots(nrows, ncols, figsize=(3 * ncols, 2.4 * nrows), dpi=100, squeeze=False)
        clear = {(r.model, r.protocol): r.values["mIoU"] for r in one_shot if r.condition == "clear"}
        for ax, cond in zip(axes.flat, conditions):
            for model, protocol in series:
                pts = sorted((r.severity, r.values["mIoU"]) for r in graded
                             if (r.condition, r.model, r.protocol) == (cond, model, protocol))
                xs = [0] + [p[0] for p in pts]
                ys = [clear.get((model, protocol), np.nan)] + [p[1] for p in pts]
                ax.plot(xs, ys, marker="o", ms=3, label=f"{model} ({protocol})")
            ax.set_title(cond, fontsize=8)
            ax.set_xticks(range(0, 6))
        for ax in axes.flat[len(conditions):]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=6)
        fig.suptitle(f"{track}: mIoU (%) against severity, {dataset}")
        written.append(_save(fig, out / f"{track}_severity.png"))
    clicks = [r for r in rows if "@" in r.protocol and "mIoU" in r.values]
    if clicks:
        fig, ax = plt.subplots(figsize=(5, 3.5), dpi=100)
        for (model, base, cond) in sorted({(r.model, r.protocol.split("@")[0], r.condition) for r in clicks
                                           if r.condition == "clear" or r.severity == 0}):
            pts = sorted((int(r.protocol.split("@")[1]), r.values["mIoU"]) for r in clicks
                         if (r.model, r.protocol.split("@")[0], r.condition) == (model, base, cond))
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, label=f"{model} {base} {cond}")
        ax.set_xlabel("clicks")
        ax.set_ylabel("mIoU (%)")
        ax.set_title(f"{track}: {dataset}")
        ax.legend(fontsize=5)
        written.append(_save(fig, out / f"{track}_clicks.png"))
    return written
