"""Results folders -> one table of result rows. The only way the report stage reads what ``eval`` wrote:
it finds every evaluation under a folder, refuses unfinished ones, and reads the files their manifests
list with the one result schema."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..eval.records import RESULT_SCHEMA, SEMANTIC_RESULT_SCHEMA
from ..jobs import STATE_DIR, IncompleteResultsError

TASKS = ("instance", "semantic")


def _task(target: Path) -> str:
    """Which evaluator wrote a results folder: its identity names the task (instance ones predate the field)."""
    try:
        task = json.loads((target / STATE_DIR / "eval.json").read_text()).get("task", "instance")
    except (OSError, ValueError, AttributeError) as e:
        raise ValueError(f"{target / STATE_DIR / 'eval.json'}: unreadable evaluation identity ({e})") from e
    if task not in TASKS:
        raise ValueError(f"{target / STATE_DIR / 'eval.json'}: unknown task {task!r}; valid: {', '.join(TASKS)}")
    return task


def read_results(results_dir: str | os.PathLike, allow_incomplete: bool = False, task: str = "instance") -> pa.Table:
    """Every evaluation of ``task`` under ``results_dir`` (all datasets, models, protocols) as one table;
    empty when the folder holds only evaluations of the other task. An evaluation folder without
    ``manifest.json`` is unfinished (a shard still missing, or killed): it is refused unless
    ``allow_incomplete``, so a leaderboard never shows a partial mean as final."""
    found = sorted(p.parent.parent for p in Path(results_dir).rglob(f"{STATE_DIR}/eval.json"))
    if not found:
        raise FileNotFoundError(f"no evaluation results under {results_dir}")
    schema = SEMANTIC_RESULT_SCHEMA if task == "semantic" else RESULT_SCHEMA
    paths = []
    for t in (t for t in found if _task(t) == task):
        m = t / "manifest.json"
        if m.exists():
            paths += [t / f for f in sorted(json.loads(m.read_text())["files"])]
        elif allow_incomplete:
            paths += sorted(p for p in t.rglob("*.parquet") if STATE_DIR not in p.parts)
        else:
            raise IncompleteResultsError(f"{t}: evaluation not complete (no manifest.json); rerun the same "
                                         "`robustseg eval` command (or its missing --shard parts, then --merge)")
    return pa.concat_tables([pq.read_table(p, schema=schema) for p in paths]) if paths else schema.empty_table()


def results_frame(results_dirs: list[str | os.PathLike], allow_incomplete: bool = False,
                  task: str = "instance") -> pd.DataFrame:
    """Every result row of ``task`` under ``results_dirs`` as one DataFrame (what aggregation and tests work on)."""
    return pa.concat_tables([read_results(d, allow_incomplete, task) for d in results_dirs]).to_pandas()


def semantic_classes(results_dirs: list[str | os.PathLike]) -> dict[str, list[str]]:
    """dataset -> class names, from the identities of the semantic evaluations under ``results_dirs``."""
    out = {}
    for d in results_dirs:
        for p in sorted(Path(d).rglob(f"{STATE_DIR}/eval.json")):
            ident = json.loads(p.read_text())
            names = ident.get("classes") if ident.get("task") == "semantic" else None
            if isinstance(names, list) and all(isinstance(c, str) for c in names):
                out[str(ident.get("dataset"))] = names
    return out
