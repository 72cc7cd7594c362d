"""Leaderboard plots (matplotlib, Agg), one set per dataset of a track: mIoU per condition as bars with
bootstrap 95% intervals as error bars; for severity profiles the bars summarise each corruption by its
mean over severities (so 19 x 5 conditions stay 20 bars) and a per-corruption figure draws mIoU against
severity with intervals; per-click mIoU curves for interactive rows. Files are named after the track and
a filename-safe form of the dataset, and written with fixed metadata so regeneration is byte-identical."""
from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

from ..jobs import atomic_write_bytes

METRIC = "mIoU"


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


def file_stems(datasets: list[str]) -> dict[str, str]:
    """Dataset -> a filename-safe stem (letters, digits, ``._-``; no leading dot), numbered when two
    datasets would collide, so a dataset name from a results folder never chooses a path."""
    slug = {d: re.sub(r"[^A-Za-z0-9_.-]", "_", d).lstrip(".") or "dataset" for d in sorted(datasets)}
    taken = [s for s in slug.values()]
    return {d: s if taken.count(s) == 1 else f"{s}-{i}" for i, (d, s) in enumerate(slug.items())}


def _err(rows: list) -> tuple[list[float], np.ndarray]:
    """Values and matplotlib's (2, n) yerr from each row's bootstrap interval (0 where there is none)."""
    ys = [r.values[METRIC] for r in rows]
    lo = [y - r.ci[METRIC][0] if METRIC in r.ci else 0.0 for y, r in zip(ys, rows)]
    hi = [r.ci[METRIC][1] - y if METRIC in r.ci else 0.0 for y, r in zip(ys, rows)]
    return ys, np.array([lo, hi])


def _label(model: str, protocol: str) -> str:
    return f"{model} ({protocol})"


def _bars(plt, track: str, dataset: str, rows: list, path: Path) -> Path:
    """Grouped bars per condition; graded corruptions collapse to their mean over severities."""
    graded = {r.condition for r in rows if r.severity > 0}
    series = sorted({(r.model, r.protocol) for r in rows})
    conds = sorted({r.condition if r.condition in graded else _split(r) for r in rows},
                   key=lambda c: (c != "clear", c))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.3 * len(conds) * len(series) + 2), 4.2), dpi=100)
    width = 0.8 / len(series)
    x = np.arange(len(conds))
    for k, (model, protocol) in enumerate(series):
        mine = [r for r in rows if (r.model, r.protocol) == (model, protocol)]
        ys, yerr = [], [[], []]
        for c in conds:
            cell = [r for r in mine if (r.condition if r.condition in graded else _split(r)) == c]
            if c in graded:  # mean over severities: no single interval
                ys.append(float(np.mean([r.values[METRIC] for r in cell])) if cell else np.nan)
                yerr[0].append(0.0), yerr[1].append(0.0)
            elif cell:
                y, e = _err(cell)
                ys.append(y[0]), yerr[0].append(e[0, 0]), yerr[1].append(e[1, 0])
            else:
                ys.append(np.nan), yerr[0].append(0.0), yerr[1].append(0.0)
        ax.bar(x + k * width, ys, width, yerr=yerr, capsize=2, error_kw={"elinewidth": 0.8},
               label=_label(model, protocol))
    ax.set_xticks(x + 0.4 - width / 2, conds, rotation=60, ha="right", fontsize=7)
    ax.set_xlabel("condition" + (" (graded corruptions: mean over severities)" if graded else ""))
    ax.set_ylabel(f"{METRIC} (%), bootstrap 95% CI")
    ax.set_ylim(0, 100)
    ax.set_title(f"{track}: {dataset}")
    ax.legend(fontsize=7, loc="lower left")
    return _save(fig, path)


def _split(r) -> str:
    return r.condition if r.severity == 0 else f"{r.condition}_{r.severity}"


def _severity(plt, track: str, dataset: str, rows: list, path: Path) -> Path:
    """One panel per corruption: mIoU against severity (0 = clear) per model, with intervals."""
    graded = [r for r in rows if r.severity > 0]
    conditions = sorted({r.condition for r in graded})
    series = sorted({(r.model, r.protocol) for r in graded})
    clear = {(r.model, r.protocol): r for r in rows if r.condition == "clear"}
    ncols = min(5, len(conditions))
    nrows = int(np.ceil(len(conditions) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3 * ncols, 2.4 * nrows + 0.6), dpi=100, squeeze=False,
                             sharex=True, sharey=True)
    for ax, cond in zip(axes.flat, conditions):
        for model, protocol in series:
            pts = sorted((r for r in graded if (r.condition, r.model, r.protocol) == (cond, model, protocol)),
                         key=lambda r: r.severity)
            pts = ([clear[(model, protocol)]] if (model, protocol) in clear else []) + pts
            ys, yerr = _err(pts)
            ax.errorbar([0 if r.condition == "clear" else r.severity for r in pts], ys, yerr=yerr, marker="o",
                        ms=3, capsize=2, label=_label(model, protocol))
        ax.set_title(cond, fontsize=8)
        ax.set_xticks(range(0, 6))
    for ax in axes.flat[len(conditions):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    fig.supxlabel("severity (0 = clear)")
    fig.supylabel(f"{METRIC} (%), bootstrap 95% CI")
    fig.suptitle(f"{track}: {METRIC} against severity, {dataset}")
    return _save(fig, path)


def _clicks(plt, track: str, dataset: str, rows: list, path: Path) -> Path:
    """mIoU after each click, per model, protocol and unsplit condition, with intervals."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8), dpi=100)
    for model, base, cond in sorted({(r.model, r.protocol.split("@")[0], r.condition) for r in rows
                                     if r.severity == 0}):
        pts = sorted((r for r in rows if (r.model, r.protocol.split("@")[0], r.condition, r.severity)
                      == (model, base, cond, 0)), key=lambda r: int(r.protocol.split("@")[1]))
        ys, yerr = _err(pts)
        ax.errorbar([int(r.protocol.split("@")[1]) for r in pts], ys, yerr=yerr, marker="o", ms=3, capsize=2,
                    label=f"{model} {base} {cond}")
    ax.set_xlabel("clicks")
    ax.set_ylabel(f"{METRIC} (%), bootstrap 95% CI")
    ax.set_title(f"{track}: {dataset}")
    ax.legend(fontsize=5)
    return _save(fig, path)


def plot_track(track: str, rows: list, out: Path) -> dict[str, list[Path]]:
    """Every dataset's plots for a track's measured rows: dataset -> files written under ``out``."""
    rows = [r for r in rows if METRIC in r.values]
    if not rows:
        return {}
    plt = _pyplot()
    written: dict[str, list[Path]] = {}
    for dataset, stem in file_stems(sorted({r.dataset for r in rows})).items():
        mine = [r for r in rows if r.dataset == dataset]
        files = written.setdefault(dataset, [])
        one_shot = [r for r in mine if "@" not in r.protocol]
        if one_shot:
            files.append(_bars(plt, track, dataset, one_shot, out / f"{track}_{stem}.png"))
        if any(r.severity > 0 for r in one_shot):
            files.append(_severity(plt, track, dataset, one_shot, out / f"{track}_{stem}_severity.png"))
        clicks = [r for r in mine if "@" in r.protocol]
        if clicks:
            files.append(_clicks(plt, track, dataset, clicks, out / f"{track}_{stem}_clicks.png"))
    return written
