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

from ..eval.records import RESULT_SCHEMA
from ..errors import MissingInputError, UsageError
from ..jobs import STATE_DIR, IncompleteResultsError, read_state

#: appended to the model name of results made on random weights, wherever they are shown
RANDOM_WEIGHTS_LABEL = " (random weights)"


def read_results(results_dir: str | os.PathLike, allow_incomplete: bool = False,
                 allow_random_weights: bool = False, label_random_weights: bool = False) -> pa.Table:
    """Every evaluation under ``results_dir`` (all datasets, models, protocols) as one table. An
    evaluation folder without ``manifest.json`` is unfinished (a shard still missing, or killed): it is
    refused unless ``allow_incomplete``, so a leaderboard never shows a partial mean as final. Results of
    a model run on random weights are refused unless ``allow_random_weights``; ``label_random_weights``
    (what leaderboards use) appends RANDOM_WEIGHTS_LABEL to their model name, so they never pass for the
    trained model's numbers."""
    targets = sorted(p.parent.parent for p in Path(results_dir).rglob(f"{STATE_DIR}/eval.json"))
    if not targets:
        raise MissingInputError(f"no evaluation results under {results_dir}")
    tables = []
    for t in targets:
        m = t / "manifest.json"
        if m.exists():
            paths = [t / f for f in sorted(json.loads(m.read_text())["files"])]
        elif allow_incomplete:
            paths = sorted(p for p in t.rglob("*.parquet") if STATE_DIR not in p.parts)
        else:
            raise IncompleteResultsError(f"{t}: evaluation not complete (no manifest.json); rerun the same "
                                         "`robustseg eval` command (or its missing --shard parts, then --merge)")
        table = pa.concat_tables([pq.read_table(p, schema=RESULT_SCHEMA) for p in paths])
        random = bool((read_state(t / STATE_DIR / "eval.json") or {}).get("random_weights"))
        if random and not allow_random_weights:
            raise UsageError(f"{t}: made with random weights (no checkpoint); pass --allow-random-weights to "
                             f"rank it anyway, labelled '{RANDOM_WEIGHTS_LABEL.strip()}'")
        if random and label_random_weights:
            label = pa.array([f"{v}{RANDOM_WEIGHTS_LABEL}" for v in table.column("model").to_pylist()], pa.string())
            table = table.set_column(table.schema.get_field_index("model"), "model", label)
        tables.append(table)
    return pa.concat_tables(tables)


def results_frame(results_dirs: list[str | os.PathLike], allow_incomplete: bool = False,
                  allow_random_weights: bool = False) -> pd.DataFrame:
    """Every result row under ``results_dirs`` as one DataFrame (what aggregation and tests work on)."""
    return pa.concat_tables([read_results(d, allow_incomplete, allow_random_weights, label_random_weights=True)
                             for d in results_dirs]).to_pandas()
