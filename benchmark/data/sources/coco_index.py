"""A COCO-format json parsed once into a compact index on disk that every build worker memory-maps.

A train2017-size json (about 450 MB) becomes several GB of Python objects when loaded whole, and a
build with N workers used to load it N + 1 times. Here each annotation's ``segmentation`` is written
to a blob file as its own JSON text the moment the parser finishes it (so the whole json never exists
as objects), the other fields are checked and packed into numpy columns, and the result is stored
under the cache folder keyed by the json's sha256. The builder's process parses; workers find the
index and map it. A sample re-reads its annotations' segmentation text from the blob, so decoding sees
exactly the JSON values (types included) of the original file.

The cache folder is ``$ROBUSTSEG_CACHE`` (default ``~/.cache/robustseg``); deleting it is always safe."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import BadInputError

FORMAT = 1
_SEG = "segmentation"


def cache_root() -> Path:
    return Path(os.environ.get("ROBUSTSEG_CACHE") or Path.home() / ".cache" / "robustseg") / "coco-index"


class _SegRef:
    """Where one annotation's segmentation text sits in the blob."""

    __slots__ = ("off", "size")

    def __init__(self, off: int, size: int):
        self.off, self.size = off, size


@dataclass(frozen=True)
class AnnRange:
    """The annotations of one image: rows ``start:end`` of the index columns, materialised on use as
    ``(ann_id, segmentation, category name, iscrowd)`` tuples."""

    index: "CocoIndex"
    start: int
    end: int

    def __iter__(self):
        ix = self.index
        for i in range(self.start, self.end):
            seg = None
            if ix.seg_size[i] >= 0:
                off = int(ix.seg_off[i])
                seg = json.loads(bytes(ix.blob[off:off + int(ix.seg_size[i])]))
            yield int(ix.ann_id[i]), seg, ix.cat_names[ix.cat[i]], bool(ix.crowd[i])

    def __len__(self) -> int:
        return self.end - self.start


@dataclass
class CocoIndex:
    """Image records (json order preserved, as dicts) and per-annotation columns sorted by (image, id)."""

    images: list  # the json's image records, sorted by id
    starts: np.ndarray  # int64, len(images) + 1: image k owns annotation rows starts[k]:starts[k+1]
    ann_id: np.ndarray
    cat: np.ndarray
    crowd: np.ndarray
    seg_off: np.ndarray
    seg_size: np.ndarray  # -1: the annotation has no segmentation
    cat_names: list
    blob: np.ndarray  # uint8, memory-mapped

    def anns(self, k: int) -> AnnRange:
        return AnnRange(self, int(self.starts[k]), int(self.starts[k + 1]))


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_key(v) -> bool:
    """A json id: an integer (not a bool, which Python would equate with 0 or 1) or a string."""
    return _is_int(v) or isinstance(v, str)


def _records(data, key: str, where: str) -> list:
    if key not in data:
        raise BadInputError(f"{where} has no {key!r} list; is it an instances json?")
    recs = data[key]
    if not isinstance(recs, list) or not all(isinstance(r, dict) for r in recs):
        raise BadInputError(f"{where}: {key!r} must be a list of objects")
    return recs


def _parse(ann_file: Path, blob_path: Path, where: str) -> tuple[list, list, list]:
    """(images, annotations, categories) with every annotation's segmentation streamed to the blob."""
    with open(blob_path, "wb") as blob:
        def hook(pairs):
            d = dict(pairs)
            if _SEG in d and "image_id" in d:  # an annotation: keep the fields we use, the shape on disk
                text = json.dumps(d[_SEG], separators=(",", ":"), allow_nan=True).encode()
                d = {k: d[k] for k in ("id", "image_id", "category_id", "iscrowd") if k in d}
                d[_SEG] = _SegRef(blob.tell(), len(text))
                blob.write(text)
            return d

        try:
            with open(ann_file, encoding="utf-8") as f:
                data = json.load(f, object_pairs_hook=hook)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise BadInputError(f"{where} is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise BadInputError(f"{where} must hold a JSON object with 'images', 'annotations' and 'categories', "
                         f"not a {type(data).__name__}")
    return tuple(_records(data, k, where) for k in ("images", "annotations", "categories"))


def _columns(images: list, annotations: list, categories: list, where: str) -> dict:
    """Check ids and types (errors name the json and the record) and pack the annotation columns."""
    cats: dict = {}
    for c in categories:
        if "id" not in c or "name" not in c:
            raise BadInputError(f"{where}: category {c.get('id', c)!r} needs 'id' and 'name'")
        if not _is_key(c["id"]) or c["id"] in cats:
            raise BadInputError(f"{where}: category id {c['id']!r} is duplicated or not an integer/string")
        if not isinstance(c["name"], str):
            raise BadInputError(f"{where}: category {c['id']!r}: 'name' must be a string, got {c['name']!r}")
        cats[c["id"]] = len(cats)
    position: dict = {}
    for img in images:
        if "id" not in img:
            raise BadInputError(f"{where}: an image record has no 'id' ({sorted(img)[:6]})")
        if not _is_key(img["id"]) or img["id"] in position:
            raise BadInputError(f"{where}: image id {img['id']!r} is duplicated or not an integer/string")
        position[img["id"]] = None
    order = sorted(images, key=lambda r: (isinstance(r["id"], str), r["id"]))
    for k, img in enumerate(order):
        position[img["id"]] = k
    rows, ann_ids = [], set()
    for k, a in enumerate(annotations):
        name = f"annotation {a.get('id', f'#{k}')!r}"
        for key in ("image_id", "category_id"):
            if key not in a:
                raise BadInputError(f"{where}: {name} has no {key!r}")
        if "id" in a and not _is_int(a["id"]):
            raise BadInputError(f"{where}: {name}: 'id' must be an integer, got {type(a['id']).__name__}")
        if "id" in a and a["id"] in ann_ids:
            raise BadInputError(f"{where}: annotation id {a['id']!r} is duplicated")
        ann_ids.add(a.get("id"))
        if not _is_key(a["image_id"]) or a["image_id"] not in position:
            raise BadInputError(f"{where}: {name} names image {a['image_id']!r}, which is not in 'images' (ids are "
                             "integers or strings)")
        if not _is_key(a["category_id"]) or a["category_id"] not in cats:
            raise BadInputError(f"{where}: {name} has unknown category {a['category_id']!r} (ids are integers or "
                             "strings)")
        if a.get("iscrowd", 0) not in (0, 1) or isinstance(a.get("iscrowd"), (bool, float)):
            raise BadInputError(f"{where}: {name}: 'iscrowd' must be the integer 0 or 1, got {a['iscrowd']!r}")
        ann_id = a.get("id", k)
        if not -(1 << 63) <= ann_id < 1 << 63:
            raise BadInputError(f"{where}: {name}: 'id' does not fit in 64 bits")
        ref = a.get(_SEG)
        rows.append((position[a["image_id"]], ann_id, k, cats[a["category_id"]], a.get("iscrowd", 0) == 1,
                     ref.off if ref else 0, ref.size if ref else -1))
    rows.sort(key=lambda r: r[:3])
    cols = np.array(rows, dtype=np.int64).reshape(-1, 7)
    starts = np.searchsorted(cols[:, 0], np.arange(len(order) + 1)).astype(np.int64)
    kept = [{k: r[k] for k in _IMAGE_KEYS if k in r} for r in order]  # every worker holds these
    return {"images": kept, "starts": starts, "ann_id": cols[:, 1].copy(), "cat": cols[:, 3].astype(np.int32),
            "crowd": cols[:, 4].astype(bool), "seg_off": cols[:, 5].copy(), "seg_size": cols[:, 6].copy(),
            "cat_names": [str(c["name"]) for c in categories]}


_IMAGE_KEYS = ("id", "file_name", "height", "width", "coco_url")  # what the readers use of an image record
_ARRAYS = ("starts", "ann_id", "cat", "crowd", "seg_off", "seg_size")


def _load(folder: Path) -> CocoIndex:
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    arrays = {k: np.load(folder / f"{k}.npy", mmap_mode="r", allow_pickle=False) for k in _ARRAYS}
    size = (folder / "blob").stat().st_size
    blob = np.memmap(folder / "blob", dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)
    return CocoIndex(meta["images"], cat_names=meta["cat_names"], blob=blob, **arrays)


def load_index(ann_file: Path, where: str) -> CocoIndex:
    """The index of ``ann_file``, parsed and checked on the first call for this content and mapped
    from the cache afterwards (by every worker). Errors that make the file unusable raise ValueError
    naming ``where``; nothing is cached for such a file."""
    digest = hashlib.sha256()
    with open(ann_file, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    folder = cache_root() / f"{digest.hexdigest()}-v{FORMAT}"
    if (folder / "meta.json").exists():
        return _load(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        images, annotations, categories = _parse(ann_file, tmp / "blob", where)
        cols = _columns(images, annotations, categories, where)
        del images, annotations, categories
        for k in _ARRAYS:
            np.save(tmp / f"{k}.npy", cols[k], allow_pickle=False)
        (tmp / "meta.json").write_text(json.dumps({"images": cols["images"], "cat_names": cols["cat_names"]}),
                                       encoding="utf-8")
        try:
            os.rename(tmp, folder)  # atomic; another process may have won the race with the same content
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return _load(folder)
