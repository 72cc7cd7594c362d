"""The static web leaderboard: an index of tracks, one page per track (sortable, filterable tables of
measured and reported rows with bootstrap intervals and Holm-corrected Wilcoxon marks, the plots,
corruption summaries) and one page per model (weights status, checkpoints seen in the results, where its
rows come from).

Why static and self-contained: it opens from ``file://`` with no server and no network (stylesheet,
script and plots are written beside the pages; nothing is fetched), so it can be committed, archived or
mailed. Pages are rendered with Jinja2 from sorted inputs with no timestamps, so the same results give
byte-identical files."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ..jobs import atomic_write_bytes, atomic_write_text
from ..vocab import TRACKS, format_value
from .plots import file_stems

TEMPLATES = Path(__file__).with_name("templates")
ASSETS = ("site.css", "site.js")
ALPHA = 0.05  # Holm-adjusted p below which a pair is marked significant


@dataclass(frozen=True)
class TrackData:
    """What one track page shows; built by ``leaderboard.build_leaderboards``."""

    track: str
    rows: list  # leaderboard Rows, measured and reported
    metrics: list[str]  # metric columns in order
    tests: list = field(default_factory=list)  # significance TestRows
    plots: dict = field(default_factory=dict)  # dataset -> plot files
    summaries: list = field(default_factory=list)  # CorruptionSummary
    files: list[str] = field(default_factory=list)  # the track's CSV/markdown names, linked from the page


@dataclass(frozen=True)
class ModelProvenance:
    """What the results say about a measured model: checkpoints (sha256, "" = weight-free or random) and
    the datasets it was evaluated on."""

    checkpoints: tuple[str, ...]
    datasets: tuple[str, ...]


def _num(v) -> str:
    """Sort key a table cell carries: the number, or empty (sorted last by the script)."""
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else repr(round(float(v), 6))


def _marks(row, tests: list) -> list[dict]:
    """Models this row's model beats (>) or trails (<) significantly on the same cell (p_holm < ALPHA)."""
    out = []
    for t in tests:
        if (t.dataset, t.protocol, t.condition, t.severity) != (row.dataset, row.protocol, row.condition, row.severity):
            continue
        if row.model not in (t.model_a, t.model_b) or not t.test.p_holm < ALPHA:
            continue
        other = t.model_b if row.model == t.model_a else t.model_a
        diff = t.test.mean_diff if row.model == t.model_a else -t.test.mean_diff
        out.append({"sign": ">" if diff > 0 else "<", "other": other,
                    "title": f"Wilcoxon n={t.test.n}, p_holm={t.test.p_holm:.3g}, mean IoU diff {100 * diff:+.2f}"})
    return out


def _row_view(row, metrics: list[str], tests: list, model_pages: dict) -> dict:
    cells = []
    for m in metrics:
        v = row.values.get(m)
        lo, hi = row.ci.get(m, (None, None))
        cells.append({"text": format_value(v), "sort": _num(v),
                      "ci": f"[{format_value(lo)}, {format_value(hi)}]" if lo is not None else ""})
    return {"dataset": row.dataset, "protocol": row.protocol, "condition": row.condition, "severity": row.severity,
            "model": row.model, "model_page": model_pages.get(row.model, ""), "kind": row.kind,
            "source": f"{row.paper} {row.table}".strip(), "instances": row.instances, "cells": cells,
            "marks": _marks(row, tests) if row.kind == "measured" else []}


def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined,
                       keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)


def _model_infos() -> dict:
    from baselines import list_models

    return {m.name: m for m in list_models()}


def _model_views(tracks: list[TrackData], provenance: dict[str, ModelProvenance], pages: dict[str, str]) -> list[dict]:
    infos = _model_infos()
    views = []
    for name, page in sorted(pages.items()):
        info = infos.get(name.split("[")[0])
        rows = [(t.track, r) for t in tracks for r in t.rows if r.model == name]
        sources = sorted({f"{r.paper} {r.table}" for _, r in rows if r.kind == "reported"})
        prov = provenance.get(name)
        views.append({"name": name, "page": page, "registered": info is not None,
                      "description": info.description if info else "",
                      "weights": info.weights_status if info else "reported in the papers only (their model name; not measured here)",
                      "verified": info.verified if info else "",
                      "checkpoints": [c or "none (weight-free or random init)" for c in prov.checkpoints] if prov else [],
                      "datasets": list(prov.datasets) if prov else [], "reported_from": sources,
                      "tracks": sorted({t for t, _ in rows}),
                      "measured": sum(r.kind == "measured" for _, r in rows),
                      "reported": sum(r.kind == "reported" for _, r in rows)})
    return views


def write_site(out: str | Path, tracks: list[TrackData], provenance: dict[str, ModelProvenance],
               leaderboard_dir: str | Path | None = None) -> list[Path]:
    """Write the site under ``out``: index.html, track-<track>.html, model-<name>.html, the stylesheet,
    the script and the plots (copied into ``out/plots``). ``leaderboard_dir``: where the CSVs live, so
    the pages can link them (only when the site is that folder or directly inside it)."""
    out = Path(out)
    env = _environment()
    order = {t: i for i, t in enumerate(TRACKS)}
    tracks = sorted(tracks, key=lambda t: (order.get(t.track, len(order)), t.track))
    models = sorted({r.model for t in tracks for r in t.rows})
    pages = {m: f"model-{s}.html" for m, s in file_stems(models).items()}
    track_pages = {t: f"track-{s}.html" for t, s in file_stems([t.track for t in tracks]).items()}
    csv_link = _relative_link(out, leaderboard_dir)
    written = []
    for name in ASSETS:
        written.append(_copy(TEMPLATES / name, out / name))
    nav = [{"name": t.track, "page": track_pages[t.track]} for t in tracks]
    for t in tracks:
        plots = []
        for dataset, files in sorted(t.plots.items()):
            for f in files:
                written.append(_copy(Path(f), out / "plots" / Path(f).name))
                plots.append({"dataset": dataset, "src": f"plots/{Path(f).name}", "alt": f"{Path(f).stem}"})
        datasets = sorted({r.dataset for r in t.rows})
        html = env.get_template("track.html.j2").render(
            nav=nav, track=t.track, metrics=t.metrics, datasets=datasets, plots=plots,
            rows=[_row_view(r, t.metrics, t.tests, pages) for r in t.rows],
            tests=[_test_view(x) for x in t.tests], summaries=_summary_views(t.summaries),
            files=[f"{csv_link}{f}" for f in t.files] if csv_link is not None else [])
        written.append(_write(out / track_pages[t.track], html))
    model_views = _model_views(tracks, provenance, pages)
    index = env.get_template("index.html.j2").render(
        nav=nav, tracks=[{"name": t.track, "page": track_pages[t.track], "datasets": len({r.dataset for r in t.rows}),
                          "measured": sum(r.kind == "measured" for r in t.rows),
                          "reported": sum(r.kind == "reported" for r in t.rows)} for t in tracks],
        models=model_views)
    written.append(_write(out / "index.html", index))
    for view in model_views:
        written.append(_write(out / view["page"], env.get_template("model.html.j2").render(nav=nav, model=view)))
    return written


def _test_view(t) -> dict:
    return {"dataset": t.dataset, "protocol": t.protocol, "condition": t.condition, "severity": t.severity,
            "a": t.model_a, "b": t.model_b, "n": t.test.n, "diff": f"{100 * t.test.mean_diff:+.2f}",
            "p": f"{t.test.pvalue:.3g}", "p_holm": f"{t.test.p_holm:.3g}", "effect": f"{t.test.effect_size:.3f}",
            "significant": bool(t.test.p_holm < ALPHA)}


def _summary_views(summaries: list) -> list[dict]:
    return [{"dataset": s.dataset, "protocol": s.protocol, "model": s.model, "reference": s.reference,
             "clear": format_value(s.clear), "mean": format_value(s.mean), "mce": format_value(s.mce),
             "relative_mce": format_value(s.relative_mce)} for s in summaries]


def _relative_link(site: Path, leaderboard_dir) -> str | None:
    """'../' when the site sits directly inside the leaderboard folder, '' when they are the same."""
    if leaderboard_dir is None:
        return None
    site, lb = site.resolve(), Path(leaderboard_dir).resolve()
    return "" if site == lb else "../" if site.parent == lb else None


def _copy(src: Path, dst: Path) -> Path:
    atomic_write_bytes(dst, src.read_bytes())
    return dst


def _write(path: Path, text: str) -> Path:
    atomic_write_text(path, text)
    return path
