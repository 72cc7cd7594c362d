"""What the ``robustseg`` commands run, as library functions, so a notebook runs exactly what a command runs
and the command only parses arguments and prints what these report: the build configuration from a
source and its options, evaluating models x protocols, and the embedded default job end to end
(``robustseg run``: build the synthetic Robust-Seg dataset, evaluate the weight-free baselines, write the
leaderboards)."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from baselines import resolve_model
from baselines.registry import check_model_arguments, create_named_model

from .data.build import BuildConfig, BuildResult, build
from .eval.evaluate import EvalResult, evaluate
from .eval.semantic import evaluate_semantic
from .report.leaderboard import build_leaderboards

#: (description, unit) -> a (done, total) progress callback, e.g. a tqdm bar; None for no progress. A
#: callback with a ``close()`` is closed when its step ends, also on an error.
ProgressFactory = Callable[[str, str], Callable[[int, int], None]]
DEFAULT_MODELS = ("box", "grabcut")
DEFAULT_PROTOCOLS = ("box", "point")


@dataclass(frozen=True)
class DefaultRun:
    dataset: Path
    results: Path
    leaderboards: list[Path]
    seconds: float


def build_config(source: str = "synthetic", source_options: Optional[dict] = None, *, root: Optional[str] = None,
                 profile: str = "robustsam", seed: int = 0, num_images: int = 24, width: int = 320, height: int = 240,
                 **build_options) -> BuildConfig:
    """A build of ``source``: ``root`` joins its options; the synthetic source takes ``num_images``, the size
    and the seed unless its options set them. ``build_options`` are the other BuildConfig fields."""
    options = dict(source_options or {})
    if root:
        options["root"] = root
    if source == "synthetic":
        for k, v in {"num_images": num_images, "width": width, "height": height, "seed": seed}.items():
            options.setdefault(k, v)
    return BuildConfig(source=source, source_options=options, profile=profile, seed=seed, **build_options)


def synthetic_config(profile: str = "robustsam", seed: int = 0, num_images: int = 24, width: int = 320,
                     height: int = 240, images_per_shard: int = 8) -> BuildConfig:
    """The default run's build: the built-in synthetic source under ``profile``."""
    return build_config("synthetic", profile=profile, seed=seed, num_images=num_images, width=width, height=height,
                        images_per_shard=images_per_shard)


def contact_sheet_image(path: Optional[str | os.PathLike] = None):
    """The image a contact sheet shows: ``path`` read as RGB uint8, or the synthetic source's first scene."""
    if path:
        from .data.sources.imageio import read_image

        return read_image(path)
    from .data.sources import create_source

    return create_source("synthetic", num_images=1, width=320, height=240)[0].image


def describe_build(r: BuildResult, seconds: float, shard: tuple[int, int] = (0, 1)) -> list[str]:
    """What a finished build (or one shard of it) reports to the user."""
    if not r.complete:
        return [f"shard {shard[0]}/{shard[1]} done; {r.chunks_done}/{r.chunks_total} chunks of {r.out} complete"]
    counts = {s: v["rows"] for c in r.manifest["splits"].values() for s, v in c.items()}
    lines = [f"dataset: {r.out} ({sum(counts.values())} rows in {len(counts)} splits, {seconds:.1f} s)"]
    if r.manifest["skipped"]:
        lines.append(f"skipped {len(r.manifest['skipped'])} bad samples: listed in {r.out / 'manifest.json'}")
    return lines


def describe_eval(r: EvalResult) -> list[str]:
    """What a finished evaluation (or one shard of it) reports to the user."""
    state = "complete" if r.complete else "this shard done; other shards still missing"
    unit = "images" if r.out.name == "semantic" else "instances"  # semantic results: one row per image
    lines = [f"results: {r.out} ({r.rows} {unit}, {r.files_done}/{r.files_total} files; {state})"]
    if r.skipped:
        lines.append(f"skipped {len(r.skipped)} images the model failed on: listed in {r.out / '.robustseg' / 'done'}; "
                     f"first: {r.skipped[0]['error']}")
    return lines


def _close(bar) -> None:
    if hasattr(bar, "close"):
        bar.close()


def evaluate_models(models: Sequence[str], dataset: str | os.PathLike, protocols: Optional[Sequence[str]] = None,
                    out: str | os.PathLike = "results", *, model_options: Optional[dict] = None,
                    checkpoint: Optional[str] = None, device: str = "cpu", progress: Optional[ProgressFactory] = None,
                    echo: Callable[[str], None] = print, **eval_options) -> list[EvalResult]:
    """Evaluate every model x protocol into ``out``. Each model is built once with ``model_options``, which
    then become part of its name (``registry.model_display_name``); ``eval_options`` go to ``evaluate``.
    ``protocols=None``: the default protocols (box and point)."""
    options = dict(model_options or {})
    for spec in models:  # every model's arguments are checked before the first one runs
        check_model_arguments(spec, checkpoint, options, random_weights=eval_options.get("random_weights", False))
    results = []
    for spec in models:
        semantic = resolve_model(spec).kind == "semantic"
        model = create_named_model(spec, checkpoint=checkpoint, device=device, **options)
        for protocol in ["semantic"] if semantic else protocols or DEFAULT_PROTOCOLS:
            bar = progress(f"eval {model.name} {protocol}", "image") if progress else None
            try:
                if semantic:  # one pass per image, no prompts: the semantic evaluator
                    r = evaluate_semantic(model, dataset, out, dataset_name=eval_options.get("dataset_name"),
                                          shard=eval_options.get("shard", (0, 1)),
                                          random_weights=eval_options.get("random_weights", False), progress=bar)
                else:
                    r = evaluate(model, dataset, protocol, out, checkpoint=checkpoint, device=device, progress=bar,
                                 **eval_options)
            finally:
                _close(bar)
            results.append(r)
            for line in describe_eval(r):
                echo(line)
    return results


def run_default(out: str | os.PathLike = "runs/default", *, profile: str = "robustsam", seed: int = 0,
                num_images: int = 24, width: int = 320, height: int = 240, num_workers: int = 1,
                models: Optional[Sequence[str]] = None, protocols: Optional[Sequence[str]] = None,
                progress: Optional[ProgressFactory] = None, echo: Callable[[str], None] = print) -> DefaultRun:
    """Build ``out/dataset``, evaluate every model x protocol into ``out/results``, write
    ``out/leaderboards`` (with the papers' reported rows, exactly as ``robustseg leaderboard`` writes the
    committed ``leaderboards/``) and its web site ``out/leaderboards/site``. Every step resumes: rerunning
    skips what is done. ``None``: the default models (box, grabcut) and
    protocols (box, point)."""
    out = Path(out)
    t0 = time.time()
    bar = progress("build", "chunk") if progress else None
    r = build(synthetic_config(profile, seed, num_images, width, height), out / "dataset", num_workers=num_workers,
              progress=bar)
    for line in describe_build(r, time.time() - t0):
        echo(line)
    name = f"synthetic_{profile}" if profile.isidentifier() else "synthetic"
    evaluate_models(models or DEFAULT_MODELS, out / "dataset", protocols, out / "results", dataset_name=name,
                    progress=progress, echo=echo)
    echo("leaderboards:")
    written = build_leaderboards([out / "results"], out / "leaderboards", html=out / "leaderboards" / "site")
    for p in written:
        echo(str(p))
    return DefaultRun(out / "dataset", out / "results", written, time.time() - t0)
