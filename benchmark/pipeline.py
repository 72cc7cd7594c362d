"""The embedded default job end to end (``robustseg run``): build the synthetic Robust-Seg dataset,
evaluate the weight-free baselines, write the leaderboards. A library function, so a notebook runs
exactly what the command runs; the command only prints what it reports."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from .data.build import BuildConfig, BuildResult, build
from .eval.evaluate import EvalResult, evaluate
from .report.leaderboard import build_leaderboards

#: (description, unit) -> a (done, total) progress callback, e.g. a tqdm bar; None for no progress
ProgressFactory = Callable[[str, str], Callable[[int, int], None]]
DEFAULT_MODELS = ("box", "grabcut")
DEFAULT_PROTOCOLS = ("box", "point")


@dataclass(frozen=True)
class DefaultRun:
    dataset: Path
    results: Path
    leaderboards: list[Path]
    seconds: float


def synthetic_config(profile: str = "robustsam", seed: int = 0, num_images: int = 24, width: int = 320,
                     height: int = 240, images_per_shard: int = 8) -> BuildConfig:
    """The default run's build: the built-in synthetic source under ``profile``."""
    return BuildConfig(source="synthetic", source_options={"num_images": num_images, "width": width, "height": height,
                                                           "seed": seed},
                       profile=profile, seed=seed, images_per_shard=images_per_shard)


def describe_build(r: BuildResult, seconds: float, shard: str = "0/1") -> list[str]:
    """What a finished build (or one shard of it) reports to the user."""
    if not r.complete:
        return [f"shard {shard} done; {r.chunks_done}/{r.chunks_total} chunks of {r.out} complete"]
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


def run_default(out: str | os.PathLike = "runs/default", *, profile: str = "robustsam", seed: int = 0,
                num_images: int = 24, width: int = 320, height: int = 240, num_workers: int = 1,
                models: Sequence[str] = DEFAULT_MODELS, protocols: Sequence[str] = DEFAULT_PROTOCOLS,
                progress: Optional[ProgressFactory] = None, echo: Callable[[str], None] = print) -> DefaultRun:
    """Build ``out/dataset``, evaluate every model x protocol into ``out/results``, write
    ``out/leaderboards``. Every step resumes: rerunning skips what is done."""
    out = Path(out)
    t0 = time.time()
    bar = progress("build", "chunk") if progress else None
    r = build(synthetic_config(profile, seed, num_images, width, height), out / "dataset", num_workers=num_workers,
              progress=bar)
    for line in describe_build(r, time.time() - t0):
        echo(line)
    name = f"synthetic_{profile}" if profile.isidentifier() else "synthetic"
    for model in models:
        for protocol in protocols:
            bar = progress(f"eval {model} {protocol}", "file") if progress else None
            for line in describe_eval(evaluate(model, out / "dataset", protocol, out / "results", dataset_name=name,
                                               progress=bar)):
                echo(line)
    echo("leaderboards:")
    written = build_leaderboards([out / "results"], out / "leaderboards", reported=False)
    for p in written:
        echo(str(p))
    return DefaultRun(out / "dataset", out / "results", written, time.time() - t0)
