"""Results folders -> one table of result rows. The only way the report stage reads what ``eval`` wrote:
it finds every evaluation under a folder, refuses unfinished ones, and reads the files their manifests
list with the one result schema, each checked against its manifest entry (sha256, columns, rows) and
its metrics checked (present, finite, in range) before any mean is taken. A results folder may come
from anyone (a submission): a file that fails is an error naming it, never a silently shorter mean."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..data.schema import check_rle
from ..errors import IntegrityError, MissingInputError, UnsafePathError, UsageError
from ..eval.records import RESULT_SCHEMA, SEMANTIC_RESULT_SCHEMA, UNCERTAINTY_COLUMNS
from ..jobs import STATE_DIR, IncompleteResultsError, load_manifest, read_state, read_verified_parquet
from ..paths import file_problem

#: every row must have these, finite and within [0, 1]; ``score`` must be finite
UNIT_METRICS = ("iou", "dice", "pixel_accuracy", "boundary_iou")
REQUIRED = ("model", "dataset", "source", "config", "split", "condition", "severity", "image_id", "object_id",
            "height", "width", "protocol", "round", "candidate", "score")


def check_result_table(table: pa.Table, where: str) -> None:
    """Raise IntegrityError naming ``where`` if a required field is missing (null), a metric is NaN,
    infinite or out of [0, 1], or a stored RLE is malformed."""
    for col in REQUIRED + UNIT_METRICS:
        if table.column(col).null_count:
            raise IntegrityError(f"{where}: {table.column(col).null_count} row(s) have no {col!r}")
    for col in UNIT_METRICS + UNCERTAINTY_COLUMNS + ("score",):  # nulls allowed only where checked above
        if pc.any(pc.invert(pc.is_finite(table.column(col)))).as_py():
            raise IntegrityError(f"{where}: column {col!r} holds NaN or infinite values")
        if col in UNIT_METRICS and table.num_rows and not (pc.min(table.column(col)).as_py() >= 0
                                                           and pc.max(table.column(col)).as_py() <= 1):
            raise IntegrityError(f"{where}: column {col!r} has values outside [0, 1]")
    if pc.min(table.column("height")).as_py() is not None and (pc.min(table.column("height")).as_py() < 1
                                                               or pc.min(table.column("width")).as_py() < 1):
        raise IntegrityError(f"{where}: a row has a non-positive height or width")
    cols = table.select(["height", "width", "gt_rle", "pred_rle", "image_id", "object_id"]).to_pylist()
    for r in cols:
        for key in ("gt_rle", "pred_rle"):
            if r[key] is not None:
                check_rle([r["height"], r["width"]], r[key], f"{where} image {r['image_id']!r} object "
                                                             f"{r['object_id']} {key}")


def _unverified(t: Path, schema: pa.Schema) -> list[pa.Table]:
    """An unfinished evaluation's result files (``allow_incomplete``): no manifest to check them
    against, but still inside the folder, regular files, the result schema and valid metrics."""
    out = []
    for p in sorted(p for p in t.rglob("*.parquet") if STATE_DIR not in p.parts):
        if problem := file_problem(p, t):
            raise UnsafePathError(f"{p}: {problem}")
        try:
            table = pq.read_table(p, schema=schema)
        except (pa.ArrowException, OSError) as e:
            raise IntegrityError(f"{p}: not a readable result file ({e})") from None
        if schema is RESULT_SCHEMA:  # instance results; semantic rows hold confusion counts, no metrics
            check_result_table(table, str(p))
        out.append(table)
    return out


TASKS = ("instance", "semantic")


def _task(ident: dict, where: Path) -> str:
    """Which evaluator wrote a results folder: its identity names the task (instance ones predate the field)."""
    task = ident.get("task", "instance")
    if task not in TASKS:
        raise IntegrityError(f"{where}: unknown task {task!r}; valid: {', '.join(TASKS)}")
    return task


#: appended to the model name of results made on random weights, wherever they are shown
RANDOM_WEIGHTS_LABEL = " (random weights)"


def read_results(results_dir: str | os.PathLike, allow_incomplete: bool = False,
                 allow_random_weights: bool = False, label_random_weights: bool = False,
                 task: str = "instance") -> pa.Table:
    """Every evaluation under ``results_dir`` (all datasets, models, protocols) as one table. An
    evaluation folder without ``manifest.json`` is unfinished (a shard still missing, or killed): it is
    refused unless ``allow_incomplete``, so a leaderboard never shows a partial mean as final. Results of
    a model run on random weights are refused unless ``allow_random_weights``; ``label_random_weights``
    (what leaderboards use) appends RANDOM_WEIGHTS_LABEL to their model name, so they never pass for the
    trained model's numbers. Only evaluations of ``task`` (instance or semantic) are read; the table is
    empty when the folder holds only the other task's."""
    root = Path(results_dir).resolve()
    targets = sorted(p.parent.parent for p in root.rglob(f"{STATE_DIR}/eval.json"))
    if not targets:
        raise MissingInputError(f"no evaluation results under {results_dir}")
    schema = SEMANTIC_RESULT_SCHEMA if task == "semantic" else RESULT_SCHEMA
    tables = []
    for t in targets:
        if not t.resolve().is_relative_to(root):
            raise UnsafePathError(f"{t}: resolves to {t.resolve()}, outside {root} (symlink); not read")
        ident_file = t / STATE_DIR / "eval.json"
        ident = read_state(ident_file) or {}
        if _task(ident, ident_file) != task:
            continue
        m = t / "manifest.json"
        if m.exists():
            manifest = load_manifest(t)
            parts = []
            for rel, meta in sorted(manifest["files"].items()):
                part = read_verified_parquet(t, rel, meta, schema, str(m))
                if task == "instance":
                    check_result_table(part, str(t / rel))
                parts.append(part)
        elif allow_incomplete:
            parts = _unverified(t, schema)
        else:
            raise IncompleteResultsError(f"{t}: evaluation not complete (no manifest.json); rerun the same "
                                         "`robustseg eval` command (or its missing --shard parts, then --merge)")
        if not parts:
            continue
        table = pa.concat_tables(parts)
        random = bool(ident.get("random_weights"))
        if random and not allow_random_weights:
            raise UsageError(f"{t}: made with random weights (no checkpoint); pass --allow-random-weights to "
                             f"rank it anyway, labelled '{RANDOM_WEIGHTS_LABEL.strip()}'")
        if random and label_random_weights:
            label = pa.array([f"{v}{RANDOM_WEIGHTS_LABEL}" for v in table.column("model").to_pylist()], pa.string())
            table = table.set_column(table.schema.get_field_index("model"), "model", label)
        tables.append(table)
    if not tables:
        return schema.empty_table()
    return pa.concat_tables(tables)


def results_frame(results_dirs: list[str | os.PathLike], allow_incomplete: bool = False,
                  allow_random_weights: bool = False, task: str = "instance") -> pd.DataFrame:
    """Every result row of ``task`` under ``results_dirs`` as one DataFrame (what aggregation and tests work on)."""
    return pa.concat_tables([read_results(d, allow_incomplete, allow_random_weights, label_random_weights=True,
                                          task=task) for d in results_dirs]).to_pandas()


def semantic_classes(results_dirs: list[str | os.PathLike]) -> dict[str, list[str]]:
    """dataset -> class names, from the identities of the semantic evaluations under ``results_dirs``."""
    out = {}
    for d in results_dirs:
        for p in sorted(Path(d).rglob(f"{STATE_DIR}/eval.json")):
            ident = read_state(p) or {}
            names = ident.get("classes") if ident.get("task") == "semantic" else None
            if isinstance(names, list) and all(isinstance(c, str) for c in names):
                out[str(ident.get("dataset"))] = names
    return out
