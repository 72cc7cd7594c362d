"""Evaluator: model x built dataset x protocol -> per-instance result rows in parquet.

One work unit per dataset shard file; its results are written atomically with a done-marker, so
a killed evaluation resumes where it stopped. One image encoding (``set_image``) serves every
prompt of the image."""
from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import pyarrow as pa

from baselines import ModelArgumentError, create_model, validate_prediction
from baselines.registry import check_model_arguments
from baselines.contract import PromptableSegmenter

from ..data.schema import FEATURES
from ..errors import IntegrityError, UnknownNameError, UsageError
from ..jobs import (DATASET_MANIFEST, STATE_DIR, IncompleteResultsError, JobConflictError, atomic_write_json, check_identity,
                    done_marker, folder_lock, load_manifest, read_marker, read_verified_parquet,
                    remove_stale_temps, sha256_file, write_parquet_atomic)
from ..paths import check_name, inside
from .clicker import run_interactive
from .protocols import EVAL_PROTOCOLS, ProtocolSpec
from .records import RESULT_SCHEMA
from .pipelined import pipelined_shards
from .stages import Decoded, base_rows, click_rows, decode_row, groups, image_error, oneshot_prompts, oneshot_rows



class EvalConflictError(JobConflictError):
    pass


@dataclass
class EvalResult:
    out: Path
    files_done: int
    files_total: int
    rows: int
    skipped: list = field(default_factory=list)  # images skipped with skip_errors: image_id, file, error
    complete: bool = False  # every dataset file (all shards) has verified results; manifest.json written


def _prefetched(rows: list[dict], where: str, depth: int = 2):
    """Decode the next rows in a background thread while the model works on the current one
    (OpenCV and pycocotools release the GIL), so the model does not wait on decoding."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = deque(pool.submit(decode_row, r, where) for r in rows[:depth])
        for k in range(len(rows)):
            if k + depth < len(rows):
                pending.append(pool.submit(decode_row, rows[k + depth], where))
            yield pending.popleft().result()


def _image_rows(model: PromptableSegmenter, d: Decoded, spec: ProtocolSpec, multimask: bool, ctx: dict, where: str,
                batch_size: int, selected: Optional[int] = None) -> list[dict]:
    if not d.objects:
        return []
    h, w = d.image.shape[:2]
    if selected is None:
        model.set_image(d.image)
    else:
        model.select_image(selected)  # encoded with its batch in set_images  # one encoding serves every prompt and round of this image
    at = f"{where} image {d.row['image_id']}"
    rows = []
    base = base_rows(d, spec, ctx)
    if spec.clicks:
        for b, gt in zip(base, d.gts):
            rows += click_rows(b, run_interactive(lambda p, mm: model.predict(p, multimask=mm), gt,
                                                  max_clicks=spec.clicks, multimask=multimask, oracle=spec.oracle,
                                                  stop_iou=spec.stop_iou, where=f"{at} object {b['object_id']}",
                                                  first=spec.first))
        return rows
    prompts = oneshot_prompts(d, spec)
    chunks = []
    for start in range(0, len(d.gts), batch_size):
        idx = slice(start, start + batch_size)
        pred = model.predict(prompts.select(idx), multimask=multimask)
        validate_prediction(pred, len(d.gts[idx]), h, w, where=at)
        chunks.append((idx, pred))
    return oneshot_rows(base, d.gts, chunks)


def _shard_rows(model: PromptableSegmenter, rows_in: list[dict], ctx: dict, where: str, spec: ProtocolSpec,
                multimask: bool, batch_size: int, skip_errors: bool, encode_batch: int,
                on_image: Callable[[], None] = lambda: None) -> tuple[list[dict], list[dict]]:
    """Result rows of one dataset shard, and the images skipped because the model failed on them
    (only with ``skip_errors``; otherwise the first failure stops the evaluation). ``on_image`` is called
    after every image (progress)."""
    rows, skipped = [], []
    for group in groups(_prefetched(rows_in, where), encode_batch):
        for _ in range(len(group) - len([d for d in group if d.objects])):
            on_image()  # images without objects: nothing to evaluate
        todo = [d for d in group if d.objects]
        batched = len(todo) > 1
        if batched:
            try:
                model.set_images([d.image for d in todo])
            except Exception:  # noqa: BLE001 - redo one by one, so a failure is pinned on its image
                batched = False
        for j, d in enumerate(todo):
            r = d.row
            try:
                rows += _image_rows(model, d, spec, multimask, ctx, where, batch_size,
                                    j if batched else None)
            except Exception as e:  # noqa: BLE001 - a contract break, or the model itself raised: with the sample
                err = image_error(e, where, r["image_id"])
                if not skip_errors:
                    raise err from (None if err is e else e)
                skipped.append({"image_id": r["image_id"], "error": str(err)})
            on_image()
    return rows, skipped


def model_for_eval(model, checkpoint: Optional[str], device: str, random_weights: bool) -> tuple[object, bool]:
    """The model to evaluate (built from a registry name, or as given) and whether it runs on random init.
    Both evaluators (instance and semantic) go through here, so one rule refuses a learned model without
    a checkpoint unless ``random_weights`` and one identity field (``random_weights``) records it."""
    if isinstance(model, str):
        check_model_arguments(model, checkpoint, random_weights=random_weights)
        model = create_model(model, checkpoint=checkpoint, device=device)
    on_random_init = bool(getattr(model, "random_weights", False))
    if on_random_init and not random_weights:
        raise ModelArgumentError(f"model {model.name!r} has random weights (no checkpoint loaded); pass "
                                 "random_weights=True (--random-weights) to evaluate it anyway, labelled")
    return model, on_random_init


def evaluate(model: str | PromptableSegmenter, dataset_dir: str | os.PathLike, protocol: str,
             out: str | os.PathLike, *, checkpoint: Optional[str] = None, device: str = "cpu",
             dataset_name: Optional[str] = None, splits: Optional[list[str]] = None,
             multimask: Optional[bool] = None, batch_size: int = 64, shard: tuple[int, int] = (0, 1),
             skip_errors: bool = False, merge: bool = False, encode_batch: int = 1, random_weights: bool = False,
             pipelined: bool = True, workers: Optional[int] = None, click_batch: int = 1,
             progress: Optional[Callable[[int, int], None]] = None) -> EvalResult:
    """Evaluate ``model`` (a registry name, ``module:Class``, or an instance) on a built dataset.
    Results go to ``out/<dataset>/<model>/<protocol>/<config>/<split>-<chunk>.parquet``.
    ``multimask`` None takes the protocol's rule (see ``EVAL_PROTOCOLS``). A model that raises or breaks
    the output contract stops the run with the failed check and the sample; with ``skip_errors`` the
    image is skipped instead and listed in the result's ``skipped`` (and in the shard's done-marker).
    With ``shard=(i, n)`` only every n-th dataset file is evaluated here; whichever run finds every file
    done writes ``manifest.json`` (the merge). ``merge=True`` evaluates nothing: it verifies that all
    shards are done and writes the manifest, or raises IncompleteResultsError. ``encode_batch`` images
    are encoded in one batched forward (``set_images``; worth it on a GPU) while the next ones decode in
    a background thread; ``batch_size`` bounds the prompts per ``predict`` call. A model with learned
    weights but no checkpoint is refused unless ``random_weights``; its results then record it. ``progress(done, total)``
    counts images (a tqdm bar then shows images per second and the time left).

    ``pipelined`` (default) keeps the model's calls back to back on this thread while ``workers`` threads
    (default: one per core) load files, decode and place prompts ahead of it and compute metrics and
    write results behind it, across file boundaries; the results are byte-identical to
    ``pipelined=False``, the plain loop (see ``pipelined.py``).
    ``click_batch`` > 1 (pipelined only) sends that many instances' clicks per ``predict`` call in the
    interactive protocols: equal results for weight-free models, float-rounding close for neural ones."""
    if isinstance(click_batch, bool) or not isinstance(click_batch, int) or click_batch < 1:
        raise UsageError(f"click_batch (--click-batch) must be an integer of at least 1, got {click_batch!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise UsageError(f"workers (--workers) must be an integer of at least 1, got {workers!r}")
    if click_batch > 1 and not pipelined:
        raise UsageError("click_batch (--click-batch) > 1 needs the pipelined evaluator (not --sequential)")
    if protocol not in EVAL_PROTOCOLS:
        raise UnknownNameError(f"unknown protocol {protocol!r}; valid protocols: {', '.join(EVAL_PROTOCOLS)}")
    spec = EVAL_PROTOCOLS[protocol]
    multimask = spec.multimask if multimask is None else multimask
    dataset_dir = Path(dataset_dir)
    manifest = load_manifest(dataset_dir, DATASET_MANIFEST)
    if manifest.get("task") == "semantic":
        raise UsageError(f"{dataset_dir} is a semantic dataset (label maps, no instances): evaluate a semantic "
                         "model on it (`robustseg models` lists them, e.g. segformer-b0)")
    model, on_random_init = model_for_eval(model, checkpoint, device, random_weights)
    name = check_name(dataset_name or dataset_dir.resolve().name,
                      "dataset name (--dataset-name, default: the folder name)")
    ckpt_sha = getattr(model, "checkpoint_sha256", "") or ""
    target = Path(out) / name / check_name(model.name, "model name") / protocol
    identity = {"model": model.name, "checkpoint_sha256": ckpt_sha, "protocol": protocol, "multimask": multimask,
                "dataset": name, "dataset_build": manifest["build"]}
    if on_random_init:  # only then: the identity of every weight-free or trained evaluation is unchanged
        identity["random_weights"] = True
    files = sorted(manifest["files"])
    for rel in files:
        if len(rel.split("/")) != 3 or not rel.startswith("data/") or "split" not in manifest["files"][rel]:
            raise IntegrityError(f"{dataset_dir / 'manifest.json'}: entry {rel!r} is not a dataset shard "
                                 "(data/<config>/<file> with a 'split')")
    if splits:
        known = {m["split"] for m in manifest["files"].values()}
        bad = sorted(set(splits) - known)
        if bad:
            raise UnknownNameError(f"unknown split(s) {bad}; this dataset has: {', '.join(sorted(known))}")
        files = [f for f in files if manifest["files"][f]["split"] in splits]
    i, n = shard
    mine = [f for k, f in enumerate(files) if k % n == i]
    ctx = {"model": model.name, "checkpoint_sha256": ckpt_sha, "dataset": name}
    total_rows, done, all_skipped = 0, 0, []
    images_total = sum(int(manifest["files"][f]["rows"]) for f in mine)
    images_done = [0]

    def tick(k: int = 1) -> None:
        images_done[0] += k
        if progress:
            progress(images_done[0], images_total)

    with folder_lock(target / STATE_DIR, f"eval-{i}-of-{n}.lock"):
        id_file = target / STATE_DIR / "eval.json"
        check_identity(id_file, identity, holds="results of a different evaluation", error=EvalConflictError)
        atomic_write_json(id_file, identity)
        infos = {} if merge else {rel: _verified(target, rel, manifest["files"][rel]) for rel in mine}
        tick(sum(int(manifest["files"][rel]["rows"]) for rel, info in infos.items() if info is not None))  # earlier runs'

        def load(rel: str) -> tuple[list[dict], dict, str]:
            meta = manifest["files"][rel]
            table = read_verified_parquet(dataset_dir, rel, meta, FEATURES.arrow_schema, f"{dataset_dir / 'manifest.json'}")
            return table.to_pylist(), ctx | {"config": rel.split("/")[1], "split": meta["split"]}, str(dataset_dir / rel)

        def publish(rel: str, table: pa.Table, skipped: list[dict]) -> None:
            dest = inside(target, _out_rel(rel), f"result file for {rel}")
            write_parquet_atomic(dest, table, compression="zstd")
            infos[rel] = {"input": rel, "input_sha256": manifest["files"][rel]["sha256"], "file": _out_rel(rel),
                          "sha256": sha256_file(dest), "rows": table.num_rows, "skipped": skipped}
            atomic_write_json(_marker(target, rel), infos[rel])

        todo = [rel for rel, info in infos.items() if info is None]
        args = (spec, multimask, batch_size, skip_errors, encode_batch)
        if pipelined:
            pipelined_shards(model, todo, load, publish, *args, workers=workers, click_batch=click_batch, on_image=tick)
        else:
            for rel in todo:
                rows, skipped = _shard_rows(model, *load(rel), *args, tick)
                publish(rel, pa.Table.from_pylist(rows, schema=RESULT_SCHEMA), skipped)
        for rel, info in infos.items():
            done += 1
            total_rows += info["rows"]
            all_skipped += [x | {"file": rel} for x in info["skipped"]]
        # this run's files were verified or written just now; other shard parts' are checked here
        missing = [rel for rel in files if rel not in infos and _verified(target, rel, manifest["files"][rel]) is None]
        if not missing:
            _write_results_manifest(target, identity)
            if n == 1:
                remove_stale_temps(target)  # every file is done; a leftover temp file is a killed writer's
        elif merge:
            raise IncompleteResultsError(f"{target}: {len(missing)} of {len(files)} dataset files have no verified "
                                         f"results yet (first: {missing[0]}); run the missing --shard parts first")
    return EvalResult(target, done, len(mine), total_rows, all_skipped, complete=not missing)


def _out_rel(rel: str) -> str:
    return rel.removeprefix("data/")


def _marker(target: Path, rel: str) -> Path:
    return done_marker(target, _out_rel(rel).replace("/", "__") + ".json")


def _verified(target: Path, rel: str, meta: dict) -> Optional[dict]:
    """The done-marker of a dataset file's results if it and its result file verify, else None."""
    info, dest = read_marker(_marker(target, rel)), target / _out_rel(rel)
    if info is None or not dest.is_file() or not isinstance(info.get("rows"), int):
        return None
    ok = info.get("input_sha256") == meta["sha256"] and info.get("sha256") == sha256_file(dest)
    return info | {"skipped": info.get("skipped", []), "file": _out_rel(rel)} if ok else None


def _write_results_manifest(target: Path, identity: dict) -> None:
    """Written when every dataset file has verified results: its presence means the folder is complete."""
    infos = [x for p in sorted((target / STATE_DIR / "done").glob("*.json")) if (x := read_marker(p)) is not None]
    files = {_out_rel(x["input"]): {"sha256": x["sha256"], "rows": x["rows"], "input": x["input"],
                                    "skipped": x.get("skipped", [])} for x in infos}
    atomic_write_json(target / "manifest.json", {"evaluation": identity, "files": files,
                                                 "rows": sum(f["rows"] for f in files.values())})
