"""Small helpers every reader needs: required files, annotation digests, label maps to objects."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

import numpy as np

from ...jobs import sha256_file
from ...paths import file_problem
from ..schema import ObjectAnn
from .errors import BadSampleError
from ...errors import BadInputError, MissingInputError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def resolve_root(root: str | os.PathLike, source: str) -> Path:
    """The dataset folder, resolved; a missing folder is an error at construction."""
    p = Path(root).expanduser().resolve()
    if not p.is_dir():
        raise MissingInputError(f"{source}: dataset folder {p} does not exist")
    return p


def require_file(path: Path, source: str, what: str) -> Path:
    if not path.is_file():
        raise MissingInputError(f"{source}: {what} {path} not found")
    return path


def require_dir(path: Path, source: str, what: str) -> Path:
    if not path.is_dir():
        raise MissingInputError(f"{source}: {what} folder {path} not found")
    return path


def load_json(path: Path, source: str):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise BadInputError(f"{source}: {path} is not valid JSON: {e}") from None


def load_json_in(path: Path, root: Path, source: str):
    """``load_json`` of a json found by listing the dataset folder: only a regular file that resolves
    inside ``root`` is opened (a FIFO would hang the reader, a symlink could leave the folder)."""
    problem = file_problem(path, root)
    if problem:
        raise BadInputError(f"{source}: {path} {problem}")
    return load_json(path, source)


def files_digest(paths: Iterable[Path], root: Path) -> dict[str, str]:
    """{path relative to root: sha256}, what identifies the annotations in a build manifest."""
    return {p.relative_to(root).as_posix() if p.is_relative_to(root) else str(p): sha256_file(p) for p in paths}


def image_files(folder: Path) -> list[Path]:
    """Every entry with an image extension that is not a folder: a FIFO, device or escaping symlink
    is listed too, so reading it fails naming it (or --skip-bad records it) instead of it vanishing."""
    return sorted(p for p in folder.iterdir() if not p.is_dir() and p.suffix.lower() in IMAGE_EXTS)


def check_same_size(mask: np.ndarray, image: np.ndarray, mask_path: Path, image_path: Path) -> None:
    if mask.shape[:2] != image.shape[:2]:
        raise BadSampleError(mask_path, f"mask is {mask.shape[1]}x{mask.shape[0]} (WxH) but its image "
                                        f"{image_path.name} is {image.shape[1]}x{image.shape[0]}")


def objects_from_ids(ids: np.ndarray, categories: dict[int, str] | None = None, ignore: Iterable[int] = (0,),
                     default_category: str = "object") -> list[ObjectAnn]:
    """One object per distinct value of an HxW id map (sorted), skipping ``ignore`` values."""
    skip = set(int(v) for v in ignore)
    out = []
    for v in np.unique(ids):
        if int(v) in skip:
            continue
        cat = (categories or {}).get(int(v), default_category)
        out.append(ObjectAnn(id=int(v), mask=ids == v, category=cat))
    return out


def nonempty(objects: list[ObjectAnn]) -> list[ObjectAnn]:
    """The documented rule for every reader: an annotation whose mask has no pixel is dropped."""
    return [o for o in objects if o.mask.any()]
