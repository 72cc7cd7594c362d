"""Reading one condition of a built dataset without preparing the others.

Why: ``load_dataset(path, config, split="fog_3")`` resolves the card's config, which lists every split,
so ``datasets`` converts all of them (96 for the ``imagecorruptions`` profile) into its cache before
returning the one asked for. Passing that split's own parquet files as ``data_files`` makes it read only
those (measured in benchmarks/RESULTS.md, "Loading one condition")."""
from __future__ import annotations

import os
from pathlib import Path

from ..jobs import load_manifest


def condition_files(dataset_dir: str | os.PathLike, split: str, config: str = "default") -> list[str]:
    """The parquet files of one (config, split) of a build, from its manifest (so only files the build
    wrote and checksummed, never a pattern that could match a neighbour's files)."""
    root = Path(dataset_dir)
    manifest = load_manifest(root)
    if config not in manifest["splits"]:
        raise KeyError(f"{root}: no config {config!r}; this dataset has: {', '.join(sorted(manifest['splits']))}")
    if split not in manifest["splits"][config]:
        raise KeyError(f"{root}: config {config!r} has no split {split!r}; valid splits: "
                       f"{', '.join(sorted(manifest['splits'][config]))}")
    return [str(root / rel) for rel, meta in sorted(manifest["files"].items())
            if rel.split("/")[1] == config and meta["split"] == split]


def load_condition(dataset_dir: str | os.PathLike, split: str, config: str = "default"):
    """One condition as a ``datasets.Dataset`` with the build's features, reading only its files."""
    from datasets import load_dataset

    return load_dataset("parquet", data_files={split: condition_files(dataset_dir, split, config)}, split=split)
