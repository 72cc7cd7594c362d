"""Which data a reproduction used: per suite dataset, the source, split, images, instances and the
sha256 of each build's manifest (which itself holds the sha256 of every shard and the source's
parameters), so a reproduced number can be traced to the exact inputs that made it."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from ..reported.suites import Suite, SuiteDataset


@dataclass(frozen=True)
class DataUsed:
    dataset: str  # suite dataset key
    source: str
    split: str  # as the suite names it (e.g. "test [msra10k]")
    images: int  # clear images (or, for real-condition sources, every image)
    instances: int  # their ground-truth instances
    manifest_sha256: str
    members_rule: str = ""  # how a pooled release split was divided, when it was


def _counts(manifest: dict) -> tuple[int, int]:
    splits = [s for config in manifest["splits"].values() for s in config.items()]
    clear = [v for name, v in splits if name == "clear"]
    chosen = clear or [v for _, v in splits]
    return sum(v["rows"] for v in chosen), sum(v["objects"] for v in chosen)


def data_used(suite: Suite, builds: Sequence, override: Mapping[str, SuiteDataset], datasets_dir: Path
              ) -> dict[str, list[DataUsed]]:
    """suite dataset -> one DataUsed per build it was read from (builds must be complete)."""
    splits = {d.dataset: override.get(d.dataset, d).split for d in suite.datasets}
    out: dict[str, list[DataUsed]] = {}
    for b in builds:
        path = datasets_dir / b.name / "manifest.json"
        raw = path.read_bytes()
        manifest = json.loads(raw)
        images, instances = _counts(manifest)
        rule = manifest["build"].get("source_params", {}).get("members_rule", "")
        out.setdefault(b.dataset, []).append(DataUsed(b.dataset, b.source, splits[b.dataset], images, instances,
                                                      hashlib.sha256(raw).hexdigest(), rule))
    return out


def cell_data(used: Mapping[str, list[DataUsed]], suite: Suite, dataset: str) -> list[DataUsed]:
    """The data behind one cell's dataset (an aggregate's: its members')."""
    members = suite.aggregate_members.get(dataset, (dataset,))
    return [u for m in members for u in used.get(m, [])]


def markdown_lines(used: Mapping[str, list[DataUsed]]) -> list[str]:
    if not used:
        return ["No dataset was read.", ""]
    lines = ["| dataset | source | split | images | instances | manifest sha256 |", "|---|---|---|---:|---:|---|"]
    rules = []
    for items in used.values():
        for u in items:
            lines.append(f"| {u.dataset} | {u.source} | {u.split} | {u.images} | {u.instances} | "
                         f"`{u.manifest_sha256}` |")
            if u.members_rule and u.members_rule not in rules:
                rules.append(u.members_rule)
    lines.append("")
    lines += [f"Members of the pooled split: {r}." for r in rules] + ([""] if rules else [])
    return lines
