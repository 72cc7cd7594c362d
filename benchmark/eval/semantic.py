"""Semantic evaluator: semantic model x semantic dataset -> one result row per image (its confusion
matrix and per-image scores), through the same job folder as the instance evaluator (atomic shard files,
done-markers, a results manifest when every dataset file is done; a rerun resumes)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pyarrow as pa

from baselines import ModelOutputError
from baselines.semantic import SemanticSegmenter, validate_semantic_prediction

from ..data.schema import decode_image
from ..data.semantic import SEMANTIC_FEATURES, decode_label
from ..jobs import (STATE_DIR, JobConflictError, atomic_write_json, check_identity, folder_lock, load_manifest,
                    read_verified_parquet, remove_stale_temps, sha256_file, write_parquet_atomic)
from .confusion import confusion_matrix, semantic_scores
from .evaluate import EvalResult, _marker, _out_rel, _verified, _write_results_manifest, model_for_eval
from .records import SEMANTIC_RESULT_SCHEMA
from ..errors import BadInputError

#: the protocol name semantic results are filed under (no prompts: the model labels every pixel)
SEMANTIC_PROTOCOL = "semantic"


def dataset_classes(manifest: dict, where: str) -> list[str]:
    """The class list of a semantic build's manifest, type-checked (the manifest is untrusted input)."""
    classes = manifest.get("classes")
    if manifest.get("task") != "semantic" or not isinstance(classes, list) or not 1 <= len(classes) < 255 \
            or not all(isinstance(c, str) for c in classes):
        raise BadInputError(f"{where}: not a semantic dataset (its manifest needs task 'semantic' and a class list "
                         "of 1..254 names); build one with a semantic source, e.g. --source cityscapes-semantic")
    return classes


def image_row(model: SemanticSegmenter, r: dict, num_classes: int, where: str) -> dict:
    image = decode_image(r["image"]["bytes"], f"{where} image {r['image_id']}")
    label = decode_label(r["label"]["bytes"], f"{where} label {r['image_id']}", num_classes)
    if label.shape != image.shape[:2]:
        raise BadInputError(f"{where} image {r['image_id']}: label {label.shape} and image {image.shape[:2]} differ")
    h, w = label.shape
    try:
        pred = model.predict(image)
    except Exception as e:  # the model itself raised: say so, with the sample
        raise ModelOutputError(f"model raised {type(e).__name__} on {where} image {r['image_id']}: {e}") from e
    validate_semantic_prediction(pred, num_classes, h, w, where=f"{where} image {r['image_id']}")
    cm = confusion_matrix(label, pred.labels, num_classes)
    unc = None if pred.uncertainty is None else float(np.mean(pred.uncertainty))
    return {"condition": r["condition"], "severity": r["severity"], "image_id": r["image_id"], "source": r["source"],
            "height": h, "width": w, "num_classes": num_classes, "confusion": cm.ravel().tolist(),
            **semantic_scores(cm), "unc_mean": unc}


def evaluate_semantic(model: str | SemanticSegmenter, dataset_dir: str | os.PathLike, out: str | os.PathLike, *,
                      checkpoint: Optional[str] = None, device: str = "cpu", dataset_name: Optional[str] = None,
                      shard: tuple[int, int] = (0, 1), random_weights: bool = False,
                      progress: Optional[Callable[[int, int], None]] = None) -> EvalResult:
    """Evaluate a semantic model on a semantic build; results in ``out/<dataset>/<model>/semantic/``.
    The model's class list must equal the dataset's (same names, same order). A learned model without a
    checkpoint is refused unless ``random_weights``, and its identity then records it, as for instances."""
    dataset_dir = Path(dataset_dir)
    manifest = load_manifest(dataset_dir)
    classes = dataset_classes(manifest, str(dataset_dir / "manifest.json"))
    model, on_random_init = model_for_eval(model, checkpoint, device, random_weights)
    if not isinstance(model, SemanticSegmenter):
        raise BadInputError(f"model {model.name!r} is promptable, not semantic: evaluate it with a prompt protocol "
                         "on an instance dataset")
    if list(model.classes) != classes:
        raise BadInputError(f"model {model.name!r} predicts classes {list(model.classes)[:4]}... but dataset "
                         f"{dataset_dir} has {classes[:4]}... ({len(classes)}); they must match in order")
    name = dataset_name or dataset_dir.resolve().name
    ckpt = getattr(model, "checkpoint_sha256", "") or ""
    target = Path(out) / name / model.name / SEMANTIC_PROTOCOL
    identity = {"task": "semantic", "model": model.name, "checkpoint_sha256": ckpt, "protocol": SEMANTIC_PROTOCOL,
                "dataset": name, "dataset_build": manifest["build"], "classes": classes}
    if on_random_init:  # as the instance evaluator: absent for trained and weight-free models
        identity["random_weights"] = True
    files = sorted(manifest["files"])
    i, n = shard
    mine = [f for k, f in enumerate(files) if k % n == i]
    ctx = {"model": model.name, "checkpoint_sha256": ckpt, "dataset": name}
    total, done = 0, 0
    with folder_lock(target / STATE_DIR, f"eval-{i}-of-{n}.lock"):
        check_identity(target / STATE_DIR / "eval.json", identity, holds="results of a different evaluation",
                       error=JobConflictError)
        atomic_write_json(target / STATE_DIR / "eval.json", identity)
        for rel in mine:
            meta = manifest["files"][rel]
            info = _verified(target, rel, meta)
            if info is None:
                # inside the folder, a regular file, its sha256 (of the bytes parsed), schema and row count
                table = read_verified_parquet(dataset_dir, rel, meta, SEMANTIC_FEATURES.arrow_schema,
                                              str(dataset_dir / "manifest.json"))
                src = dataset_dir / rel
                base = ctx | {"config": rel.split("/")[1], "split": meta["split"]}
                rows = [base | image_row(model, r, len(classes), str(src)) for r in table.to_pylist()]
                dest = target / _out_rel(rel)
                write_parquet_atomic(dest, pa.Table.from_pylist(rows, schema=SEMANTIC_RESULT_SCHEMA), compression="zstd")
                info = {"input": rel, "input_sha256": meta["sha256"], "file": _out_rel(rel),
                        "sha256": sha256_file(dest), "rows": len(rows), "skipped": []}
                atomic_write_json(_marker(target, rel), info)
            done += 1
            total += info["rows"]
            if progress:
                progress(done, len(mine))
        complete = all(_verified(target, rel, manifest["files"][rel]) is not None for rel in files)
        if complete:
            _write_results_manifest(target, identity)
            if n == 1:
                remove_stale_temps(target)
    return EvalResult(target, done, len(mine), total, [], complete=complete)
