"""Training samples streamed from a built dataset: which image, which condition, which object and which
prompt, all drawn from generators derived from (seed, epoch, image_id, split), so a resumed run sees
exactly the samples an uninterrupted run would.

An epoch visits every image once: shard groups (the files of one build chunk, one per split) in a
seeded order, images within a group in a seeded order; for each image one split is drawn uniformly
(RobustSAM's dataset.py draws one of its 16 folders, clear included, per clear image). Parquet files are
read a group at a time and only the row groups holding the chosen rows, so memory stays at one group."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import cv2
import numpy as np
import pyarrow.parquet as pq

from corruptions import CLEAR

from ..data.schema import FEATURES, decode_image, decode_rle
from ..eval.protocols import tight_box
from ..jobs import DATASET_MANIFEST, load_manifest, read_verified_parquet, sha256_file
from ..errors import BadInputError, UnknownNameError


def train_rng(seed: int, *keys) -> np.random.Generator:
    """A generator for one named draw; the only randomness of the data pipeline."""
    digest = hashlib.blake2b("\x00".join(map(str, keys)).encode(), digest_size=8).digest()
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF,
                                                         int.from_bytes(digest, "little")]))


@dataclass
class Group:
    """The files of one build chunk (one per split) and, per image, its row and largest valid object."""

    key: str  # "<config>/<chunk>"
    files: dict  # split -> relative path
    rows: dict = field(default_factory=dict)  # image_id -> {split: (row, object index or -1)}


@dataclass
class DatasetIndex:
    root: Path
    groups: list
    manifest: dict

    @property
    def fingerprint(self) -> str:
        return self.manifest.get("fingerprint", "")


def _largest_valid(objects: list) -> int:
    """Index of the largest non-crowd, non-empty object (first on ties, as RobustSAM's get_largest_mask), -1
    when there is none."""
    best, best_area = -1, 0
    for k, o in enumerate(objects):
        if not o["iscrowd"] and o["area"] > best_area:
            best, best_area = k, o["area"]
    return best


def index_dataset(dataset_dir: str | os.PathLike, configs: Optional[list[str]] = None) -> DatasetIndex:
    """Read the manifest and the (image_id, objects) columns of every shard; images stay on disk."""
    root = Path(dataset_dir)
    manifest = load_manifest(root, DATASET_MANIFEST)
    known = sorted({rel.split("/")[1] for rel in manifest["files"]})
    if configs:
        bad = sorted(set(configs) - set(known))
        if bad:
            raise UnknownNameError(f"{root}: unknown dataset config(s) {bad}; this dataset has: {', '.join(known)}")
    groups: dict[str, Group] = {}
    for rel in sorted(manifest["files"]):
        config = rel.split("/")[1]
        if configs and config not in configs:
            continue
        key = f"{config}/{Path(rel).stem.rsplit('-', 1)[1]}"
        split = manifest["files"][rel]["split"]
        g = groups.setdefault(key, Group(key, {}))
        g.files[split] = rel
        # verified like eval's reads: inside the folder, sha256 of the parsed bytes, schema, row count
        table = read_verified_parquet(root, rel, manifest["files"][rel], FEATURES.arrow_schema,
                                      str(root / "manifest.json")).select(["image_id", "objects"])
        for row, (image_id, objects) in enumerate(zip(table.column("image_id").to_pylist(),
                                                      table.column("objects").to_pylist())):
            g.rows.setdefault(image_id, {})[split] = (row, _largest_valid(objects))
    out = [g for g in groups.values() if any(k >= 0 for r in g.rows.values() for _, k in r.values())]
    if not out:
        raise BadInputError(f"{root}: no image with a non-empty, non-crowd object to train on")
    return DatasetIndex(root, out, manifest)


@dataclass(frozen=True)
class PlanItem:
    group: int
    image_id: str
    split: str
    epoch: int


def is_unlabelled(image_id: str, fraction: float) -> bool:
    """Whether a semi-supervised recipe withholds this image's ground truth: a fixed share ``fraction`` of
    the images, chosen by image id alone, so every stage and seed of a recipe sees the same partition."""
    return fraction > 0 and float(train_rng(0, "unlabelled", image_id).random()) < fraction


def recipe_plan(index: DatasetIndex, recipe, seed: int, epoch: int, splits: Optional[list[str]] = None) -> list:
    """``plan_epoch`` for a recipe; a labelled-only recipe (SUM's refinement module) skips the held-out images."""
    holdout = recipe.unlabelled_fraction if recipe.labelled_only else 0.0
    return plan_epoch(index, seed, epoch, recipe.paired, splits, holdout)


def plan_epoch(index: DatasetIndex, seed: int, epoch: int, paired: bool,
               splits: Optional[list[str]] = None, holdout: float = 0.0) -> list[PlanItem]:
    """The ordered samples of one epoch; a pure function of (dataset, seed, epoch, paired, splits, holdout).
    ``holdout`` > 0 drops the images ``is_unlabelled`` withholds at that share."""
    rng = train_rng(seed, "epoch", epoch)
    items = []
    for gi in rng.permutation(len(index.groups)):
        g = index.groups[int(gi)]
        ids = sorted(g.rows)
        for ii in rng.permutation(len(ids)):
            rows = g.rows[ids[int(ii)]]
            if paired and CLEAR not in rows:
                continue
            choices = sorted(s for s in rows if splits is None or s in splits)
            if not choices:
                continue
            split = choices[int(rng.integers(len(choices)))]
            if rows[split][1] >= 0 and not is_unlabelled(ids[int(ii)], holdout):  # drawn first, dropped after:
                # the draw sequence does not depend on content
                items.append(PlanItem(int(gi), ids[int(ii)], split, epoch))
    return items


@dataclass
class TrainItem:
    """One training sample at train_size x train_size: the (degraded) image, its clear pair when the recipe
    is paired, the target mask and one prompt (points or a box)."""

    image: np.ndarray  # (T, T, 3) uint8
    mask: np.ndarray  # (T, T) bool
    points: Optional[np.ndarray]  # (P, 2) float32 xy, or None
    box: Optional[np.ndarray]  # (4,) float32 xyxy, or None
    clear: Optional[np.ndarray] = None
    image_id: str = ""
    split: str = ""
    unlabelled: bool = False  # semi-supervised recipes (SUM): the model must not learn from ``mask`` directly


def resize_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """Area-weighted when shrinking, bilinear when enlarging, kept where coverage >= 1/2; a small object
    that would vanish keeps every pixel it touches, so a non-empty mask stays non-empty."""
    interp = cv2.INTER_AREA if size < max(mask.shape) else cv2.INTER_LINEAR
    cover = cv2.resize(mask.astype(np.float32), (size, size), interpolation=interp)
    out = cover >= 0.5
    return out if out.any() else cover > 0


def sample_points(mask: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n positive points drawn without replacement from the mask pixels (RobustSAM's dataset.py); with fewer
    pixels than n, the last pixel is repeated."""
    ys, xs = np.nonzero(mask)
    idx = rng.choice(len(xs), size=n, replace=False) if len(xs) >= n else np.r_[np.arange(len(xs)),
                                                                               [len(xs) - 1] * (n - len(xs))]
    return np.stack([xs[idx], ys[idx]], axis=1).astype(np.float32)


def make_prompt(mask: np.ndarray, recipe, rng: np.random.Generator) -> tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """(points, box) for the recipe's prompt rule; exactly one is set."""
    if recipe.prompt == "points_or_box" and rng.random() < 0.5:
        return None, tight_box(mask)
    if recipe.prompt not in ("points", "points_or_box"):
        raise ValueError(f"unknown prompt rule {recipe.prompt!r}; valid: points, points_or_box")
    return sample_points(mask, recipe.num_points, rng), None


class ShardReader:
    """Rows of one group's files, reading only the row groups that hold requested rows; checks each file's
    sha256 against the manifest once."""

    def __init__(self, index: DatasetIndex):
        self.index = index
        self._verified: set[str] = set()

    def rows(self, rel: str, wanted: list[int]) -> dict[int, dict]:
        path = self.index.root / rel
        if rel not in self._verified:
            if sha256_file(path) != self.index.manifest["files"][rel]["sha256"]:
                raise BadInputError(f"{path}: checksum differs from the dataset manifest (file changed or corrupt)")
            self._verified.add(rel)
        pf = pq.ParquetFile(path)
        starts = np.cumsum([0] + [pf.metadata.row_group(i).num_rows for i in range(pf.num_row_groups)])
        out = {}
        for rg in sorted({int(np.searchsorted(starts, r, side="right") - 1) for r in wanted}):
            table = pf.read_row_group(rg, columns=["image", "image_id", "objects"]).to_pylist()
            for r in wanted:
                if starts[rg] <= r < starts[rg + 1]:
                    out[r] = table[r - starts[rg]]
        return out


def _materialize(item: PlanItem, rows: dict, recipe, seed: int, where: str) -> TrainItem:
    deg = rows[item.split]
    at = f"{where} image {item.image_id}"
    obj = deg["objects"][_largest_valid(deg["objects"])]
    full_image = decode_image(deg["image"]["bytes"], at)
    full_mask = decode_rle(obj["mask"])
    if full_mask.shape != full_image.shape[:2]:
        raise BadInputError(f"{at} object {obj['id']}: mask is {full_mask.shape}, image is {full_image.shape[:2]}")
    size = recipe.train_size
    image = cv2.resize(full_image, (size, size), interpolation=cv2.INTER_LINEAR)  # as RobustSAM's dataset.py
    mask = resize_mask(full_mask, size)
    points, box = make_prompt(mask, recipe, train_rng(seed, "prompt", item.epoch, item.image_id, item.split))
    clear = None
    if recipe.paired:
        clear = cv2.resize(decode_image(rows[CLEAR]["image"]["bytes"], f"{at} (clear)"), (size, size),
                           interpolation=cv2.INTER_LINEAR)
    return TrainItem(image, mask, points, box, clear, item.image_id, item.split,
                     is_unlabelled(item.image_id, recipe.unlabelled_fraction))


def stream(index: DatasetIndex, recipe, seed: int, start: int = 0,
           splits: Optional[list[str]] = None) -> Iterator[TrainItem]:
    """Training samples from global position ``start`` on (epochs repeat); skipped positions cost no reads."""
    reader = ShardReader(index)
    epoch, pos = 0, 0
    while True:
        plan = recipe_plan(index, recipe, seed, epoch, splits)
        if not plan:
            raise BadInputError(f"{index.root}: no training sample (splits {splits}, paired={recipe.paired})")
        if pos + len(plan) <= start:
            pos += len(plan)
            epoch += 1
            continue
        todo = plan[max(0, start - pos):]
        pos += len(plan)
        epoch += 1
        k = 0
        while k < len(todo):
            g = todo[k].group
            batch = []
            while k < len(todo) and todo[k].group == g:
                batch.append(todo[k])
                k += 1
            yield from _group_items(index, reader, g, batch, recipe, seed)


def _group_items(index, reader, g, batch, recipe, seed) -> Iterator[TrainItem]:
    group = index.groups[g]
    need: dict[str, set[int]] = {}
    for it in batch:
        info = group.rows[it.image_id]
        need.setdefault(it.split, set()).add(info[it.split][0])
        if recipe.paired:
            need.setdefault(CLEAR, set()).add(info[CLEAR][0])
    loaded = {s: reader.rows(group.files[s], sorted(r)) for s, r in need.items()}
    for it in batch:
        info = group.rows[it.image_id]
        rows = {s: loaded[s][info[s][0]] for s in ([it.split, CLEAR] if recipe.paired else [it.split])}
        for s, r in rows.items():
            if r["image_id"] != it.image_id:
                raise BadInputError(f"{index.root / group.files[s]}: row {info[s][0]} holds image {r['image_id']!r}, "
                                 f"the index expected {it.image_id!r} (file changed since indexing)")
        yield _materialize(it, rows, recipe, seed, str(index.root / group.files[it.split]))
