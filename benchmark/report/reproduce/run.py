"""Run a suite: build the datasets it lacks, evaluate every runnable model on each, tabulate, render."""
from __future__ import annotations

import hashlib
import itertools
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

from ...errors import UsageError
from ...jobs import atomic_write_text
from ...vocab import AP_LABELS, COLUMN_OF
from ..reported import load_reported
from ..reported.suites import CLASS_IOU, SourceInput, Suite, SuiteDataset
from .provenance import cell_data, data_used, markdown_lines
from .render import dict_csv, stats_csv, write_csv, write_markdown
from .status import (InputStatus, MissingInputsError, ModelSelection, build_model, get_suite, input_root,
                     suite_status)
from .semantic import CLASS_COLUMNS, class_markdown, class_rows, semantic_frames
from .tabulate import Tabulator, cells_of, select_condition, statistics

BUILD_PROFILES = {"robustsam": "robustsam", "clear": "clear", "real": "clear"}  # real: the source's own conditions
Progress = Optional[Callable[[str], None]]
#: semantic sources are PNG photos scored per pixel: stored losslessly, so the model sees the published pixels
IMAGE_FORMAT = {"instance": "jpeg", "semantic": "png"}


@dataclass(frozen=True)
class Build:
    dataset: str  # suite dataset key
    source: str
    name: str  # folder name under out/datasets, also the results' dataset name
    config: object  # BuildConfig


def _builds(suite: Suite, ready: set[str], override: Mapping[str, SuiteDataset], data_root: Optional[Path],
            limit: Optional[int], seed: int) -> list[Build]:
    from ...data.build import BuildConfig

    out = []
    for ds in suite.datasets:
        if ds.dataset not in ready:
            continue
        ds = override.get(ds.dataset, ds)
        for inp in ds.inputs:
            options = dict(inp.options)
            root = input_root(inp, data_root)
            if root is not None:
                options["root"] = str(root.resolve())
            cfg = BuildConfig(source=inp.source, source_options=options, profile=BUILD_PROFILES[ds.profile],
                              seed=seed, limit=limit, image_format=IMAGE_FORMAT[suite.task])
            digest = hashlib.sha256(json.dumps(cfg.identity(), sort_keys=True).encode()).hexdigest()[:8]
            out.append(Build(ds.dataset, inp.source, f"{inp.source}-{cfg.profile}-{digest}", cfg))
    return out


def _preflight_sources(builds: Sequence[Build], out: Path) -> None:
    """Open every source that still has to be built, so a bad layout fails before hours of building."""
    from ...data.sources import create_source

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


def _build_all(builds: Sequence[Build], out: Path, progress: Progress) -> None:
    from ...data.build import build

    for k, b in enumerate(builds, 1):
        if (out / b.name / "manifest.json").exists():
            continue
        if progress:
            progress(f"build {k}/{len(builds)}: {b.dataset} from {b.source} -> {out / b.name}")
        r = build(b.config, out / b.name)
        if not r.complete:
            raise RuntimeError(f"{out / b.name}: build incomplete ({r.chunks_done}/{r.chunks_total} chunks)")


def _results(model_statuses: Sequence[InputStatus], builds: Sequence[Build], protocols: Sequence[str], out: Path,
             device: str, model_kwargs: Mapping[str, dict], need_masks: bool, progress: Progress,
             random_weights: bool = False) -> dict:
    """(our model, build name, our protocol) -> per-instance result rows as a DataFrame."""

    from ...eval.evaluate import evaluate
    from ..results import read_results

    columns = ["model", "dataset", "split", "condition", "severity", "image_id", "object_id", "height", "width",
               "protocol", "round", "score", *COLUMN_OF.values()] + (["gt_rle", "pred_rle", "category", "area"] if need_masks else [])
    frames = {}
    for st in {s.registry: s for s in model_statuses}.values():
        model = build_model(st, device, model_kwargs)
        for b, protocol in itertools.product({b.name: b for b in builds}.values(), protocols):
            if progress:
                progress(f"eval {st.registry} {protocol} on {b.name}")
            r = evaluate(model, out / "datasets" / b.name, protocol, out / "results", dataset_name=b.name,
                         random_weights=random_weights)
            frames[(st.registry, b.name, protocol)] = read_results(
                r.out, allow_random_weights=random_weights).select(columns).to_pandas()
        del model
    return frames


def _with_suite_options(s, runnable, model_kwargs: Mapping[str, dict]) -> dict[str, dict]:
    """Per robustseg model: the options the suite's row states for the paper's evaluation (e.g. ECOCSeg's
    test scale), then the caller's, which win."""
    options = {m.name: dict(m.options) for m in s.models}
    out = {k: dict(v) for k, v in model_kwargs.items()}
    for st in runnable:
        out[st.registry] = options.get(st.name, {}) | out.get(st.registry, {})
    return out


def reproduce(suite: str, data_root: Optional[str | os.PathLike], checkpoints: Mapping[str, Optional[str]],
              out: str | os.PathLike, *, models: ModelSelection = None, datasets: Optional[Sequence[str]] = None,
              limit: Optional[int] = None, device: str = "cpu", model_kwargs: Optional[Mapping[str, dict]] = None,
              dataset_override: Optional[Mapping[str, SuiteDataset]] = None, seed: int = 0,
              random_weights: bool = False, progress: Progress = None) -> Path:
    """Rerun ``suite``: build what is missing under ``out/datasets``, evaluate into ``out/results``, and
    write ``out/<suite>.csv`` and ``.md`` (plus ``<suite>_stats.csv`` for suites with a statistical
    test, and ``<suite>_classes.csv``, per-class IoU, for semantic suites). Returns the CSV path.

    ``checkpoints``: robustseg model name -> checkpoint file; None as the path means random init, allowed
    only with ``random_weights`` (which also gives every model without a checkpoint random init; tests).
    ``models``: the paper's model names to run (default: every one robustseg can run), or a mapping
    paper name -> robustseg model to substitute one. ``dataset_override``: suite dataset -> a replacement
    ``SuiteDataset`` (e.g. the synthetic source, for tests). Raises ``MissingInputsError`` listing every
    missing input before any work."""
    s = get_suite(suite)
    checkpoints = _weights_or_refuse(s, checkpoints, models, random_weights)
    override = dict(dataset_override or {})
    status = suite_status(s, data_root, checkpoints, models=models, datasets=datasets, dataset_override=override)
    if not status.runnable:
        raise MissingInputsError(f"suite {s.name}: nothing robustseg can run (no dataset with a reader, or no model "
                                 "with weights); `robustseg reproduce --list` shows why. Substitute a model with "
                                 "models={paper name: robustseg model}")
    if status.missing:
        raise MissingInputsError(f"suite {s.name} cannot run; missing inputs:\n  "
                                 + "\n  ".join(f"{i.kind} {i.name}: {i.detail}" for i in status.missing))
    _refuse_shared_weights(s.name, [i for i in status.inputs if i.kind == "model" and i.state == "present"])
    out = Path(out)
    ready = {i.name for i in status.inputs if i.kind == "dataset" and i.state == "present"}
    builds = _builds(s, ready, override, None if data_root is None else Path(data_root), limit, seed)
    _preflight_sources(builds, out / "datasets")
    _build_all(builds, out / "datasets", progress)
    protocols = sorted({m.protocol for m in s.matches if m.protocol})
    runnable = [i for i in status.inputs if i.kind == "model" and i.state == "present"]
    model_kwargs = _with_suite_options(s, runnable, model_kwargs or {})
    need_masks = any(k in AP_LABELS for k in s.metrics)
    classes = {}
    if s.task == "semantic":
        frames, classes = semantic_frames(runnable, builds, out, device, dict(model_kwargs or {}), progress,
                                          random_weights)
    else:
        frames = _results(runnable, builds, protocols, out, device, dict(model_kwargs or {}), need_masks, progress,
                          random_weights)
    tab = Tabulator(s, status, builds, frames, classes)
    cells = cells_of(s, tab, s.reported(load_reported()))
    used = data_used(s, builds, override, out / "datasets")
    for c in cells:
        if c.reproduced is not None:
            c.data = "; ".join(f"{u.source}:{u.split} images={u.images} instances={u.instances} "
                               f"manifest_sha256={u.manifest_sha256}" for u in cell_data(used, s, c.dataset))
    stats = statistics(s, cells) if s.statistics else []
    path = out / f"{s.name}.csv"
    atomic_write_text(path, write_csv(cells))
    sections = []
    if CLASS_IOU in s.metrics:
        rows = class_rows(s, tab, select_condition)
        atomic_write_text(out / f"{s.name}_classes.csv", dict_csv(rows, CLASS_COLUMNS))
        sections = class_markdown(rows)
    atomic_write_text(out / f"{s.name}.md", write_markdown(s, status, cells, stats, limit, markdown_lines(used),
                                                           sections))
    if s.statistics:
        atomic_write_text(out / f"{s.name}_stats.csv", stats_csv(stats))
    return path


def _refuse_shared_weights(suite: str, runnable: Sequence[InputStatus]) -> None:
    """Two paper rows run by one robustseg model (SUM fine-tuned on FT-Small and on FT-Medium are both
    ``sum_vit_h``) would get the same weights and print the same numbers under two names, since a
    checkpoint is given per robustseg model: such rows run one at a time."""
    by_model: dict[str, list[str]] = {}
    for st in runnable:
        by_model.setdefault(st.registry, []).append(st.name)
    shared = {k: v for k, v in by_model.items() if len(v) > 1}
    if shared:
        k, names = next(iter(sorted(shared.items())))
        raise UsageError(f"suite {suite}: {', '.join(repr(n) for n in names)} all run as {k}, so they would share "
                         f"one checkpoint; run them one at a time, each with its own checkpoint and --out "
                         f"(--model {names[0]!r} --checkpoint {k}=PATH)")


def _weights_or_refuse(s, checkpoints: Mapping[str, Optional[str]], models: ModelSelection,
                       random_weights: bool) -> dict[str, Optional[str]]:
    """Random init only when asked: a None checkpoint without ``random_weights`` is refused; with it, every
    suite model that has learned weights and no checkpoint runs on random init (results say so)."""
    from baselines import ModelArgumentError, UnknownModelError
    from baselines.registry import needs_weights as _needs

    def needs_weights(name: str) -> bool:
        try:
            return _needs(name)
        except UnknownModelError:  # not installed here; the suite status reports it
            return False

    if not random_weights:
        bad = sorted(k for k, v in checkpoints.items() if v is None and needs_weights(k))
        if bad:
            raise ModelArgumentError(f"no checkpoint for {', '.join(bad)}: give --checkpoint MODEL=PATH, or pass "
                                     "--random-weights to run on random init (results are labelled)")
        return dict(checkpoints)
    substitutes = models.values() if isinstance(models, Mapping) else ()
    names = {n for m in s.models for n in m.registry} | {v for v in substitutes if v}
    return {**{n: None for n in sorted(names) if needs_weights(n)}, **checkpoints}


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
