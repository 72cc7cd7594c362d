"""Reproduction suites: rerun a seed paper's table and show reported, reproduced and their difference.

A suite (``benchmark/report/reported/suites.json``) names datasets, conditions, protocols, metrics and the
papers' models. ``reproduce`` checks every input first and fails with one message listing what is
missing, then builds the datasets it lacks (resumable), evaluates each model on each (cached per
build, model and protocol), and writes ``<suite>.csv`` and ``<suite>.md`` with one row per printed
cell. Inputs robustseg cannot provide (no reader, no released weights, no matching protocol) are not
errors: their cells keep the reported number and say why nothing was reproduced."""
from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence, Union

import numpy as np

from ..jobs import atomic_write_text
from ..vocab import AP_LABELS, COLUMN_OF, SYNTHETIC_CONDITIONS
from ..vocab import format_value as _f
from .aggregate import frame_ap
from .reported import PAPERS, ReportedRow, load_reported
from .reported.suites import SourceInput, Suite, SuiteDataset, SuiteModel, load_suites

BUILD_PROFILES = {"robustsam": "robustsam", "clear": "clear", "real": "clear"}  # real: the source's own conditions
NOT_ADVERSE = ("clear", "undefined", "reference")  # conditions a pooled "real" leaves out
CONDITION_ALIASES = {"rainy": "rain", "snowy": "snow", "foggy": "fog"}  # BDD100K weather -> vocabulary
CSV_COLUMNS = ("suite", "paper", "table", "model", "our_model", "dataset", "condition", "protocol", "our_protocol",
               "round", "match", "metric", "printed", "reported", "reproduced", "difference", "instances", "note")
STATS_COLUMNS = ("metric", "protocol", "condition", "model_a", "model_b", "datasets", "mean_diff", "statistic",
                 "pvalue", "effect_size")

ModelSelection = Union[Mapping[str, Optional[str]], Sequence[str], None]
Progress = Optional[Callable[[str], None]]


class MissingInputsError(FileNotFoundError):
    """A suite cannot run: the message lists every missing dataset folder and checkpoint at once."""


@dataclass(frozen=True)
class InputStatus:
    kind: str  # "dataset" or "model"
    name: str  # suite dataset key or the paper's model name
    state: str  # present | missing | unavailable (robustseg cannot provide it) | skipped (not selected)
    detail: str
    registry: Optional[str] = None  # models: the robustseg model that runs for it
    checkpoint: Optional[str] = None


@dataclass(frozen=True)
class SuiteStatus:
    suite: str
    paper: str
    tables: tuple[str, ...]
    inputs: tuple[InputStatus, ...]

    @property
    def missing(self) -> list[InputStatus]:
        return [i for i in self.inputs if i.state == "missing"]

    @property
    def runnable(self) -> bool:
        """Some dataset has a reader and some model has weights, present or not yet."""
        return {i.kind for i in self.inputs if i.state in ("present", "missing")} == {"dataset", "model"}

    @property
    def ready(self) -> bool:
        return self.runnable and not self.missing


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
    instances: int
    note: str

    @property
    def difference(self) -> Optional[float]:
        return None if self.reported is None or self.reproduced is None else self.reproduced - self.reported


def get_suite(name: str) -> Suite:
    suites = {s.name: s for s in load_suites()}
    if name not in suites:
        raise KeyError(f"unknown suite {name!r}; valid suites: {', '.join(suites)}")
    return suites[name]


# ---------------------------------------------------------------- inputs

def _root(inp: SourceInput, data_root: Optional[Path]) -> Optional[Path]:
    if inp.root is None:
        return None
    root = Path(inp.root)
    return root if root.is_absolute() or data_root is None else data_root / root


def _dataset_status(ds: SuiteDataset, data_root: Optional[Path]) -> InputStatus:
    if not ds.inputs:
        return InputStatus("dataset", ds.dataset, "unavailable", "no robustseg reader for it")
    problems, where = [], []
    for inp in ds.inputs:
        root = _root(inp, data_root)
        if root is None:
            where.append(inp.source)
            continue
        where.append(f"{inp.source} at {root}")
        if data_root is None and not Path(inp.root).is_absolute():
            problems.append(f"{inp.source}: needs --data-root (expects <data-root>/{inp.root})")
        elif not root.is_dir():
            problems.append(f"{inp.source}: folder {root} not found")
        else:
            absent = [r for r in inp.requires if not (root / r).exists()]
            if absent:
                problems.append(f"{inp.source}: {root} lacks {', '.join(absent)}")
    if problems:
        return InputStatus("dataset", ds.dataset, "missing", "; ".join(problems))
    return InputStatus("dataset", ds.dataset, "present", ", ".join(where))


def _selection(suite: Suite, models: ModelSelection) -> Optional[dict[str, Optional[str]]]:
    if models is None:
        return None
    chosen = dict(models) if isinstance(models, Mapping) else {m: None for m in models}
    unknown = sorted(set(chosen) - {m.name for m in suite.models})
    if unknown:
        raise KeyError(f"suite {suite.name}: unknown model(s) {unknown}; its models: "
                       f"{', '.join(m.name for m in suite.models)}")
    return chosen


def _model_status(m: SuiteModel, substitute: Optional[str], checkpoints: Mapping[str, Optional[str]]) -> InputStatus:
    from baselines import resolve_model

    candidates = [substitute] if substitute else list(m.registry)
    if not candidates:
        return InputStatus("model", m.name, "unavailable", f"no robustseg model for it (weights: {m.weights})")
    for name in candidates:
        info = resolve_model(name)
        if not info.checkpoint_files:
            return InputStatus("model", m.name, "present", f"{name} (weight-free)", name)
        if name in checkpoints:
            path = checkpoints[name]
            if path is None:
                return InputStatus("model", m.name, "present", f"{name} (random init: not the paper's model)", name)
            if not Path(path).is_file():
                return InputStatus("model", m.name, "missing", f"{name}: checkpoint file {path} not found", name)
            return InputStatus("model", m.name, "present", f"{name} from {path}", name, str(path))
    need = " or ".join(f"--checkpoint {c}=PATH" for c in candidates)
    if substitute or m.weights == "public":
        return InputStatus("model", m.name, "missing", f"needs {need}")
    return InputStatus("model", m.name, "unavailable", f"weights {m.weights}; to run your own: {need}")


def suite_status(suite: Suite, data_root: Optional[str | os.PathLike], checkpoints: Mapping[str, Optional[str]],
                 *, models: ModelSelection = None, datasets: Optional[Sequence[str]] = None,
                 dataset_override: Optional[Mapping[str, SuiteDataset]] = None) -> SuiteStatus:
    """What a rerun of ``suite`` needs and whether each input is present (nothing is read but folders)."""
    root = None if data_root is None else Path(data_root)
    override = dict(dataset_override or {})
    known = {d.dataset for d in suite.datasets}
    unknown = sorted((set(datasets or ()) | set(override)) - known)
    if unknown:
        raise KeyError(f"suite {suite.name}: unknown dataset(s) {unknown}; its datasets: {', '.join(sorted(known))}")
    inputs = []
    for ds in suite.datasets:
        st = _dataset_status(override.get(ds.dataset, ds), root)
        if datasets is not None and ds.dataset not in datasets and st.state != "unavailable":
            st = InputStatus("dataset", ds.dataset, "skipped", "not selected")
        inputs.append(st)
    chosen = _selection(suite, models)
    for m in suite.models:
        if chosen is not None and m.name not in chosen:
            inputs.append(InputStatus("model", m.name, "skipped", "not selected"))
        else:
            inputs.append(_model_status(m, (chosen or {}).get(m.name), checkpoints))
    return SuiteStatus(suite.name, suite.paper, suite.tables, tuple(inputs))


def list_suites_status(data_root: Optional[str | os.PathLike],
                       checkpoints: Optional[Mapping[str, Optional[str]]] = None) -> list[SuiteStatus]:
    """Every suite with, per dataset and model, whether it is present, missing or unavailable here."""
    return [suite_status(s, data_root, checkpoints or {}) for s in load_suites()]


def format_status(statuses: Sequence[SuiteStatus]) -> str:
    """The text of ``robustseg reproduce --list``."""
    suites = {s.name: s for s in load_suites()}
    lines = []
    for st in statuses:
        s = suites[st.suite]
        tables = ", ".join(st.tables) or "no tables in the seed"
        state = "ready" if st.ready else "MISSING INPUTS" if st.runnable else "nothing runnable"
        lines += [f"{st.suite}  [{state}]", f"  {PAPERS[st.paper].title} ({PAPERS[st.paper].venue}): {tables}",
                  f"  {s.title}"]
        for kind in ("dataset", "model"):
            for i in (i for i in st.inputs if i.kind == kind):
                lines.append(f"  {kind:7s} {i.state:11s} {i.name}: {i.detail}")
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------- build and evaluate

@dataclass(frozen=True)
class _Build:
    dataset: str  # suite dataset key
    source: str
    name: str  # folder name under out/datasets, also the results' dataset name
    config: object  # BuildConfig


def _builds(suite: Suite, ready: set[str], override: Mapping[str, SuiteDataset], data_root: Optional[Path],
            limit: Optional[int], seed: int) -> list[_Build]:
    from ..data.build import BuildConfig

    out = []
    for ds in suite.datasets:
        if ds.dataset not in ready:
            continue
        ds = override.get(ds.dataset, ds)
        for inp in ds.inputs:
            options = dict(inp.options)
            root = _root(inp, data_root)
            if root is not None:
                options["root"] = str(root.resolve())
            cfg = BuildConfig(source=inp.source, source_options=options, profile=BUILD_PROFILES[ds.profile],
                              seed=seed, limit=limit)
            digest = hashlib.sha256(json.dumps(cfg.identity(), sort_keys=True).encode()).hexdigest()[:8]
            out.append(_Build(ds.dataset, inp.source, f"{inp.source}-{cfg.profile}-{digest}", cfg))
    return out


def _preflight_sources(builds: Sequence[_Build], out: Path) -> None:
    """Open every source that still has to be built, so a bad layout fails before hours of building."""
    from ..data.sources import create_source

    problems = []
    for b in builds:
        if (out / b.name / "manifest.json").exists():
            continue
        try:
            create_source(b.source, **b.config.source_options)
        except (FileNotFoundError, ValueError, TypeError, OSError, KeyError) as e:
            problems.append(f"dataset {b.dataset} ({b.source}): {e}")
    if problems:
        raise MissingInputsError("cannot read these datasets:\n  " + "\n  ".join(problems))


def _build_all(builds: Sequence[_Build], out: Path, progress: Progress) -> None:
    from ..data.build import build

    for k, b in enumerate(builds, 1):
        if (out / b.name / "manifest.json").exists():
            continue
        if progress:
            progress(f"build {k}/{len(builds)}: {b.dataset} from {b.source} -> {out / b.name}")
        r = build(b.config, out / b.name)
        if not r.complete:
            raise RuntimeError(f"{out / b.name}: build incomplete ({r.chunks_done}/{r.chunks_total} chunks)")


def _results(model_statuses: Sequence[InputStatus], builds: Sequence[_Build], protocols: Sequence[str], out: Path,
             device: str, model_kwargs: Mapping[str, dict], need_masks: bool, progress: Progress) -> dict:
    """(our model, build name, our protocol) -> per-instance result rows as a DataFrame."""
    from baselines import create_model

    from ..eval.evaluate import evaluate
    from .results import read_results

    columns = ["model", "dataset", "split", "condition", "severity", "image_id", "object_id", "height", "width",
               "protocol", "round", "score", *COLUMN_OF.values()] + (["gt_rle", "pred_rle", "category", "area"] if need_masks else [])
    frames = {}
    for st in {s.registry: s for s in model_statuses}.values():
        model = create_model(st.registry, checkpoint=st.checkpoint, device=device, **model_kwargs.get(st.registry, {}))
        for b, protocol in itertools.product({b.name: b for b in builds}.values(), protocols):
            if progress:
                progress(f"eval {st.registry} {protocol} on {b.name}")
            r = evaluate(model, out / "datasets" / b.name, protocol, out / "results", dataset_name=b.name)
            frames[(st.registry, b.name, protocol)] = read_results(r.out).select(columns).to_pandas()
        del model
    return frames


# ---------------------------------------------------------------- numbers

def _condition_parts(condition: str) -> set[str]:
    rest, parts = condition, set()
    if "dawn_dusk" in rest:
        parts.add("dawn_dusk")
        rest = rest.replace("dawn_dusk", "")
    return parts | {CONDITION_ALIASES.get(p, p) for p in rest.split("_") if p}


def _select(df, condition: str):
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


class _Tabulator:
    """Computes reproduced numbers for (paper model, dataset, condition, protocol, metric)."""

    def __init__(self, suite: Suite, status: SuiteStatus, builds: Sequence[_Build], frames: dict):
        self.suite, self.frames = suite, frames
        self.inputs = {(i.kind, i.name): i for i in status.inputs}
        self.builds = {}
        for b in builds:
            self.builds.setdefault(b.dataset, []).append(b.name)

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
        df = _select(df[df["round"] == match.round], condition)
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


def _cells(suite: Suite, tab: _Tabulator, reported: Sequence[ReportedRow]) -> list[Cell]:
    def cell(table, model, dataset, condition, protocol, metric, printed, rep):
        m = suite.match(protocol)
        our = tab.inputs[("model", model)]
        v, n, why = tab.value(model, dataset, condition, protocol, metric)
        note = why or ("" if m.match == "exact" else f"{m.match} protocol: {m.note}")
        return Cell(suite.name, suite.paper, table, model, our.registry or "", dataset, condition, protocol,
                    m.protocol or "", m.round, m.match, metric, printed, rep, v, n, note)

    if reported:
        return [cell(r.table, r.model, r.dataset, r.condition, r.protocol, r.metric, r.printed, r.percent)
                for r in reported]
    datasets = [d.dataset for d in suite.datasets] + list(suite.aggregates)
    return [cell("", m.name, d, c, p, k, "", None)
            for m, d, c, p, k in itertools.product(suite.models, datasets, suite.conditions, suite.protocols,
                                                    suite.metrics)]


def _statistics(suite: Suite, cells: Sequence[Cell]) -> list[dict]:
    """Wilcoxon signed-rank across datasets (one pair per dataset), for every pair of reproduced models."""
    from .stats import across_datasets

    rows = []
    plain = [c for c in cells if c.reproduced is not None and c.dataset not in suite.aggregate_members]
    for metric, protocol, condition in itertools.product(suite.metrics, suite.protocols, suite.conditions):
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


# ---------------------------------------------------------------- output

def write_csv(cells: Sequence[Cell]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for c in cells:
        w.writerow([c.suite, c.paper, c.table, c.model, c.our_model, c.dataset, c.condition, c.protocol,
                    c.our_protocol, c.round, c.match, c.metric, c.printed, _f(c.reported), _f(c.reproduced),
                    _f(c.difference), c.instances, c.note])
    return buf.getvalue()


def _grid(cells: Sequence[Cell], notes: dict[str, int]) -> list[str]:
    cols = list(dict.fromkeys((c.dataset, c.condition) for c in cells))
    one_dataset, one_condition = len({d for d, _ in cols}) == 1, len({c for _, c in cols}) == 1
    heads = [c if one_dataset else d if one_condition else f"{d} {c}" for d, c in cols]
    rows = list(dict.fromkeys((c.model, c.our_model, c.protocol) for c in cells))
    lines = ["| model (ours) | protocol | " + " | ".join(heads) + " |", "|---|---|" + "---:|" * len(cols)]
    by_key = {(c.model, c.our_model, c.protocol, c.dataset, c.condition): c for c in cells}
    for model, ours, protocol in rows:
        texts = []
        for d, cond in cols:
            c = by_key.get((model, ours, protocol, d, cond))
            if c is None:
                texts.append("")
                continue
            text = f"{_f(c.reported) or '—'} / {_f(c.reproduced) or '—'}"
            if c.difference is not None:
                text += f" ({c.difference:+.2f})"
            if c.reproduced is None and c.note:  # protocol approximations are listed once, under Protocols
                text += f" [{notes.setdefault(c.note, len(notes) + 1)}]"
            texts.append(text)
        lines.append(f"| {model} ({ours or '—'}) | {protocol} | " + " | ".join(texts) + " |")
    return lines


def write_markdown(suite: Suite, status: SuiteStatus, cells: Sequence[Cell], stats: Sequence[dict],
                   limit: Optional[int]) -> str:
    paper = PAPERS[suite.paper]
    lines = [f"# {suite.name}: {suite.title}", "",
             f"{paper.title} ({paper.venue}), {', '.join(suite.tables) or 'no tables in the seed text'}.", "",
             "Each cell: **reported / reproduced (reproduced − reported)**, in percent. Reported numbers are the "
             "papers' as printed (converted to percent); reproduced ones come from this run.", ""]
    if limit is not None:
        lines += [f"**Subsample:** at most {limit} images per source (`limit`); numbers are not the full sets'.", ""]
    lines += ["## Inputs", ""] + [f"- {i.kind} **{i.name}**: {i.state}, {i.detail}" for i in status.inputs] + [""]
    lines += ["## Protocols", ""] + [f"- {m.paper_protocol} → {m.protocol or 'not runnable'}"
                                     f"{f' round {m.round}' if m.protocol else ''} ({m.match}): {m.note}"
                                     for m in suite.matches] + [""]
    notes: dict[str, int] = {}
    for table, metric in dict.fromkeys((c.table, c.metric) for c in cells):
        sub = [c for c in cells if (c.table, c.metric) == (table, metric)]
        lines += [f"## {table or 'Planned cells'}: {metric}", ""] + _grid(sub, notes) + [""]
    if notes:
        lines += ["## Why a cell has no reproduced number", ""] + [f"{k}. {n}" for n, k in notes.items()] + [""]
    if suite.statistics:
        lines += ["## Statistics", "", f"{suite.statistics}.", ""]
        if stats:
            lines += ["| metric | protocol | condition | model a | model b | datasets | mean a−b | W | p | r |",
                      "|---|---|---|---|---|---:|---:|---:|---:|---:|"]
            lines += [f"| {s['metric']} | {s['protocol']} | {s['condition']} | {s['model_a']} | {s['model_b']} | "
                      f"{s['datasets']} | {s['mean_diff']:.2f} | {s['statistic']:.1f} | {s['pvalue']:.4f} | "
                      f"{s['effect_size']:+.2f} |" for s in stats]
        else:
            lines.append("Not computed: it needs two reproduced models.")
        lines.append("")
    lines += ["## Ambiguities in the paper", ""] + [f"- {a}" for a in suite.ambiguities] + [""]
    return "\n".join(lines)


def _stats_csv(stats: Sequence[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, STATS_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(stats)
    return buf.getvalue()


# ---------------------------------------------------------------- entry point

def reproduce(suite: str, data_root: Optional[str | os.PathLike], checkpoints: Mapping[str, Optional[str]],
              out: str | os.PathLike, *, models: ModelSelection = None, datasets: Optional[Sequence[str]] = None,
              limit: Optional[int] = None, device: str = "cpu", model_kwargs: Optional[Mapping[str, dict]] = None,
              dataset_override: Optional[Mapping[str, SuiteDataset]] = None, seed: int = 0,
              progress: Progress = None) -> Path:
    """Rerun ``suite``: build what is missing under ``out/datasets``, evaluate into ``out/results``, and
    write ``out/<suite>.csv`` and ``.md`` (plus ``<suite>_stats.csv`` for suites with a statistical
    test). Returns the CSV path.

    ``checkpoints``: robustseg model name -> checkpoint file; None as the path means random init
    (tests only). ``models``: the paper's model names to run (default: every one robustseg can run),
    or a mapping paper name -> robustseg model to substitute one. ``dataset_override``: suite dataset
    -> a replacement ``SuiteDataset`` (e.g. the synthetic source, for tests). Raises
    ``MissingInputsError`` listing every missing input before any work."""
    s = get_suite(suite)
    override = dict(dataset_override or {})
    status = suite_status(s, data_root, checkpoints, models=models, datasets=datasets, dataset_override=override)
    if not status.runnable:
        raise MissingInputsError(f"suite {s.name}: nothing robustseg can run (no dataset with a reader, or no model "
                                 "with weights); `robustseg reproduce --list` shows why. Substitute a model with "
                                 "models={paper name: robustseg model}")
    if status.missing:
        raise MissingInputsError(f"suite {s.name} cannot run; missing inputs:\n  "
                                 + "\n  ".join(f"{i.kind} {i.name}: {i.detail}" for i in status.missing))
    out = Path(out)
    ready = {i.name for i in status.inputs if i.kind == "dataset" and i.state == "present"}
    builds = _builds(s, ready, override, None if data_root is None else Path(data_root), limit, seed)
    _preflight_sources(builds, out / "datasets")
    _build_all(builds, out / "datasets", progress)
    protocols = sorted({m.protocol for m in s.matches if m.protocol})
    runnable = [i for i in status.inputs if i.kind == "model" and i.state == "present"]
    need_masks = any(k in AP_LABELS for k in s.metrics)
    frames = _results(runnable, builds, protocols, out, device, dict(model_kwargs or {}), need_masks, progress)
    cells = _cells(s, _Tabulator(s, status, builds, frames), s.reported(load_reported()))
    stats = _statistics(s, cells) if s.statistics else []
    path = out / f"{s.name}.csv"
    atomic_write_text(path, write_csv(cells))
    atomic_write_text(out / f"{s.name}.md", write_markdown(s, status, cells, stats, limit))
    if s.statistics:
        atomic_write_text(out / f"{s.name}_stats.csv", _stats_csv(stats))
    return path


def synthetic_override(suite: Suite, *, num_images: int = 2, width: int = 64, height: int = 48,
                       profile: Optional[str] = None) -> dict[str, SuiteDataset]:
    """Every dataset of ``suite`` replaced by the built-in synthetic source (for tests and dry runs).
    ``profile`` None keeps each dataset's profile, except ``real``, which becomes ``robustsam`` so the
    pooled real condition has degraded images to pool."""
    synth = SourceInput("synthetic", None, (), {"num_images": num_images, "width": width, "height": height,
                                                 "seed": 0, "max_objects": 2})
    return {d.dataset: replace(d, sources=("synthetic",), inputs=(synth,),
                               profile=profile or ("robustsam" if d.profile == "real" else d.profile))
            for d in suite.datasets}
