"""Builder: source x corruption profile x seed -> parquet shards, a dataset card and a manifest.

The work unit is a chunk of ``images_per_shard`` consecutive source images of one partition; it
writes one parquet file per split (condition) atomically and then a done-marker with the files'
sha256. A rerun skips chunks whose marker and files verify, so a killed build resumes and ends
with the same bytes. Chunk contents depend only on (source, profile, seed), never on worker or
shard count."""
from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing as mp
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

import cv2
import numpy as np
import pyarrow as pa

import corruptions
from corruptions import CLEAR, split_name

from ..argtypes import check_partitions
from ..errors import BadInputError, UsageError
from ..jobs import (STATE_DIR, JobConflictError, atomic_write_json, atomic_write_text, check_identity, check_reachable,
                    done_marker, dump_json, folder_lock, ignore_sigint, read_marker, remove_stale_temps, sha256_file,
                    write_parquet_atomic)
from ..paths import check_name
from . import card
from .schema import FEATURES, SCHEMA_VERSION, Sample, encode_image, object_record
from .semantic import IGNORE_INDEX, SEMANTIC_FEATURES, SemanticSample, semantic_rows
from .sources import create_source

DEFAULT_CONFIG = "default"
IMAGE_FORMATS = ("jpeg", "png")


@dataclass(frozen=True)
class BuildConfig:
    """Everything the output bytes depend on."""

    source: str = "synthetic"
    source_options: dict = field(default_factory=dict)
    profile: str = "robustsam"
    seed: int = 0
    images_per_shard: int = 128
    image_format: str = "jpeg"
    jpeg_quality: int = 95
    partitions: tuple = ()  # ((name, fraction), ...); () = one config named "default"
    limit: Optional[int] = None  # deterministic subsample of the source (by seed)

    def identity(self) -> dict:
        d = asdict(self)
        d["partitions"] = [list(p) for p in self.partitions]
        d["schema_version"] = SCHEMA_VERSION
        return d


class BuildConflictError(JobConflictError):
    pass


@dataclass
class Chunk:
    config: str
    index: int
    source_indices: list[int]

    @property
    def marker(self) -> str:
        return f"{self.config}-{self.index:05d}.json"


def plan_chunks(cfg: BuildConfig, n_source: int) -> list[Chunk]:
    """Partition and chunk the source indices; a pure function of (cfg, n_source)."""
    indices = np.arange(n_source)
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 0xB01D]))
    if cfg.limit is not None and cfg.limit < n_source:
        indices = np.sort(rng.permutation(n_source)[: cfg.limit])
    groups: list[tuple[str, np.ndarray]]
    if cfg.partitions:
        perm = indices[rng.permutation(len(indices))]
        fracs = np.array([f for _, f in cfg.partitions], dtype=float)
        bounds = np.round(np.cumsum(fracs / fracs.sum()) * len(perm)).astype(int)
        starts = np.concatenate([[0], bounds[:-1]])
        groups = [(name, np.sort(perm[s:e])) for (name, _), s, e in zip(cfg.partitions, starts, bounds)]
    else:
        groups = [(DEFAULT_CONFIG, indices)]
    chunks = []
    for name, idx in groups:
        for k, start in enumerate(range(0, len(idx), cfg.images_per_shard)):
            chunks.append(Chunk(name, k, [int(i) for i in idx[start:start + cfg.images_per_shard]]))
    return chunks


def sample_rows(sample: Sample, profile: list[tuple[str, int]], cfg: BuildConfig) -> list[tuple[str, dict]]:
    """(split name, row) for the sample itself and, if it is clear, every corruption of it."""
    ext = "jpg" if cfg.image_format == "jpeg" else "png"

    def row(image, objects, condition, severity):
        h, w = image.shape[:2]
        return split_name(condition, severity), {
            "image": {"bytes": encode_image(image, cfg.image_format, cfg.jpeg_quality), "path": f"{sample.image_id}.{ext}"},
            "image_id": sample.image_id, "source": sample.source or cfg.source, "condition": condition,
            "severity": severity, "seed": cfg.seed, "width": w, "height": h, "objects": objects,
        }

    records = [object_record(o) for o in sample.objects]
    out = [row(sample.image, records, sample.condition, sample.severity)]
    if sample.condition != CLEAR:  # a real-degradation image is not corrupted further
        own = split_name(sample.condition, sample.severity)
        if any(split_name(corruptions.get_corruption(k).name, s) == own for k, s in profile):
            raise UsageError(f"{sample.image_id}: the source's own condition {own!r} is also a split of profile "
                             f"{cfg.profile!r}; the two would mix. Build this source with --profile clear")
        return out
    masks = sample.masks
    for key, severity in profile:
        c = corruptions.get_corruption(key)
        image, warped = corruptions.apply_corruption(key, sample.image, masks, severity=severity, seed=cfg.seed,
                                                     image_id=sample.image_id)
        objs = records
        if c.geometric:  # masks moved with the image; objects pushed fully out of view are dropped
            objs = []
            for o, m in zip(sample.objects, warped):
                if m.any():
                    objs.append(object_record(type(o)(o.id, m, o.category, o.iscrowd)))
        out.append(row(image, objs, c.name, severity))
    return out


def rows_of(sample: Sample | SemanticSample, profile: list[tuple[str, int]], cfg: BuildConfig) -> list[tuple[str, dict]]:
    """Instance or semantic rows, by the sample's type; a real-condition sample whose condition is also a
    split of the profile is refused (the two would mix in one split)."""
    if sample.condition != CLEAR:
        own = split_name(sample.condition, sample.severity)
        if any(split_name(corruptions.get_corruption(k).name, s) == own for k, s in profile):
            raise ValueError(f"{sample.image_id}: the source's own condition {own!r} is also a split of profile "
                             f"{cfg.profile!r}; the two would mix. Build this source with --profile clear")
    if isinstance(sample, SemanticSample):
        return semantic_rows(sample, profile, cfg)
    return sample_rows(sample, profile, cfg)


def _write_parquet(path: Path, rows: list[dict], semantic: bool = False) -> None:
    schema = (SEMANTIC_FEATURES if semantic else FEATURES).arrow_schema
    write_parquet_atomic(path, pa.Table.from_pylist(rows, schema=schema), row_group_size=64, compression="zstd")


def _chunk_is_done(out: Path, chunk: Chunk) -> bool:
    info = read_marker(done_marker(out, chunk.marker))
    files = info.get("files") if info else None
    if not isinstance(files, dict) or not isinstance(info.get("skipped"), list):  # absent or corrupt: redo it
        return False
    return all(isinstance(meta, dict) and (out / f).is_file() and sha256_file(out / f) == meta.get("sha256")
               for f, meta in files.items())


@functools.lru_cache(maxsize=2)
def _cached_source(name: str, options_json: str):
    """One reader per worker process: indexing a large annotation file once, not once per chunk."""
    return create_source(name, **json.loads(options_json))


def fingerprint(identity: dict) -> str:
    """Short hash of a build's identity, part of every shard name. Hugging Face datasets keys its
    Arrow cache on the data-file patterns, not on file contents: without it, two different builds in
    folders of the same name would be served from one cache."""
    return hashlib.sha256(dump_json(identity).encode()).hexdigest()[:10]


def _run_chunk(args: tuple[Path, BuildConfig, Chunk, bool, str]) -> dict:
    out, cfg, chunk, skip_bad, fp = args
    cv2.setNumThreads(1)
    source = _cached_source(cfg.source, json.dumps(cfg.source_options, sort_keys=True))
    profile = corruptions.parse_profile(cfg.profile)
    by_split: dict[str, list[dict]] = {}
    skipped = []
    from .sources.errors import BadSampleError

    for i in chunk.source_indices:
        try:
            sample = source[i]
        except BadSampleError as e:
            if not skip_bad:
                raise
            skipped.append({"index": i, "error": str(e)})
            continue
        for split, r in rows_of(sample, profile, cfg):
            by_split.setdefault(split, []).append(r)
    files = {}
    semantic = bool(getattr(source, "classes", ()))
    for split, rows in sorted(by_split.items()):
        rel = f"data/{chunk.config}/{split}-{fp}-{chunk.index:05d}.parquet"
        _write_parquet(out / rel, rows, semantic)
        files[rel] = {"sha256": sha256_file(out / rel), "rows": len(rows), "split": split,
                      "objects": sum(len(r.get("objects", ())) for r in rows)}
    info = {"config": chunk.config, "chunk": chunk.index, "files": files, "skipped": skipped}
    atomic_write_json(done_marker(out, chunk.marker), info)
    return info


@dataclass
class BuildResult:
    out: Path
    complete: bool
    chunks_done: int
    chunks_total: int
    manifest: Optional[dict]


def _check_identity(out: Path, identity: dict) -> None:
    """Refuse an output folder that holds a different build or unrelated files."""
    id_file = out / STATE_DIR / "build.json"
    if check_identity(id_file, identity, holds="a different build", error=BuildConflictError):
        return
    if out.exists() and any(p.name != STATE_DIR for p in out.iterdir()):
        raise BuildConflictError(f"{out} is not empty and holds no robustseg build; use an empty or new folder")
    atomic_write_json(id_file, identity)


ENGINES = ("local", "ray")


def _run_local(jobs: list, num_workers: int):
    if num_workers > 1 and len(jobs) > 1:
        with mp.get_context("spawn").Pool(num_workers, initializer=ignore_sigint) as pool:
            yield from pool.imap_unordered(_run_chunk, jobs)
    else:
        yield from map(_run_chunk, jobs)


def _run_ray(jobs: list, address: Optional[str]):
    """Chunks as Ray tasks. ``out`` must be on storage every Ray node can write (a shared filesystem)."""
    import ray

    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    task = ray.remote(num_cpus=1)(_run_chunk)
    pending = [task.remote(j) for j in jobs]
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        yield ray.get(ready[0])


def build(cfg: BuildConfig, out: str | os.PathLike, *, num_workers: int = 1, shard: tuple[int, int] = (0, 1),
          skip_bad: bool = False, engine: str = "local", ray_address: Optional[str] = None,
          progress: Optional[Callable[[int, int], None]] = None) -> BuildResult:
    """Build (or resume) ``cfg`` into ``out``. With ``shard=(i, n)`` only chunks i, i+n, ... are
    built here; whichever process finds every chunk done writes the manifest and card.
    ``engine="ray"`` runs the chunks as Ray tasks (``ray_address``: an existing cluster, or None
    for a local one); the bytes are the same as with the local engine."""
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}; valid engines: {', '.join(ENGINES)}")
    if ray_address is not None and engine != "ray":
        raise UsageError("--ray-address applies only with --engine ray")
    if engine == "ray" and ray_address not in (None, "auto", "local"):
        check_reachable(ray_address, "Ray cluster (--ray-address)")  # Ray itself retries a dead one for minutes
    out = Path(out)
    if cfg.image_format not in IMAGE_FORMATS:
        raise UsageError(f"unknown image format {cfg.image_format!r}; valid: {', '.join(IMAGE_FORMATS)}")
    corruptions.parse_profile(cfg.profile)  # fail fast on unknown names
    for name, _ in check_partitions(cfg.partitions):  # names become folders
        check_name(name, "partition (--split) name")
    source = create_source(cfg.source, **cfg.source_options)
    if len(source) == 0:
        raise BadInputError(f"source {cfg.source!r} found no images with these options; nothing to build")
    identity = cfg.identity() | {"source_params": source.params()}
    i, n = shard
    if not (0 <= i < n):
        raise UsageError(f"bad shard {i}/{n}: need 0 <= i < n")
    out.mkdir(parents=True, exist_ok=True)
    with folder_lock(out / STATE_DIR, f"build-{i}-of-{n}.lock"):
        _check_identity(out, identity)
        chunks = plan_chunks(cfg, len(source))
        mine = [c for k, c in enumerate(chunks) if k % n == i]
        todo = [c for c in mine if not _chunk_is_done(out, c)]
        done = len(mine) - len(todo)
        if progress:
            progress(done, len(mine))
        fp = fingerprint(identity)
        jobs = [(out, cfg, c, skip_bad, fp) for c in todo]
        results = _run_ray(jobs, ray_address) if engine == "ray" and jobs else _run_local(jobs, num_workers)
        for _ in results:
            done += 1
            if progress:
                progress(done, len(mine))
        complete = all(_chunk_is_done(out, c) for c in chunks)
        manifest = finalize(out, cfg, identity, chunks) if complete else None
    return BuildResult(out, complete, sum(_chunk_is_done(out, c) for c in chunks), len(chunks), manifest)


def finalize(out: Path, cfg: BuildConfig, identity: dict, chunks: list[Chunk]) -> dict:
    """Manifest and dataset card from the done-markers; written last, so their presence means complete."""
    files, skipped = {}, []
    for c in chunks:
        info = read_marker(done_marker(out, c.marker))
        files.update(info["files"])
        skipped += [s | {"config": c.config} for s in info["skipped"]]
    splits: dict[str, dict[str, dict]] = {}
    for rel, meta in sorted(files.items()):
        config = rel.split("/")[1]
        s = splits.setdefault(config, {}).setdefault(meta["split"], {"rows": 0, "objects": 0, "files": []})
        s["rows"] += meta["rows"]
        s["objects"] += meta["objects"]
        s["files"].append(rel)
    manifest = {"build": identity, "fingerprint": fingerprint(identity), "splits": splits, "files": files, "skipped": skipped,
                "corruptions": card.corruption_table(cfg.profile)}
    remove_stale_temps(out)  # every chunk and marker is done: a leftover temp file is a killed writer's
    source = create_source(cfg.source, **cfg.source_options)
    if getattr(source, "classes", ()):  # a semantic build: its class list (index -> name) travels with it
        manifest |= {"task": "semantic", "classes": list(source.classes), "ignore_index": IGNORE_INDEX}
    text = card.render_card(manifest, source)
    atomic_write_text(out / "README.md", text)
    manifest["card_sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()  # push verifies the card too
    atomic_write_json(out / "manifest.json", manifest)  # last: its presence means the build is complete
    return manifest
