"""COCO-format instance json readers: COCO, LVIS and LIS (low light, its lighting as the condition).

Masks are decoded exactly as ``pycocotools.COCO.annToMask`` does (polygons and uncompressed RLE
through ``frPyObjects``, polygons of one object merged); the json ``area`` is ignored (the schema
recomputes it from the mask). Annotations whose mask has no pixel are dropped."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional
from urllib.parse import urlparse

import numpy as np
from pycocotools import mask as mask_utils

from ..schema import ObjectAnn, Sample, rle_counts
from .base import Source, register_source
from .coco_index import load_index
from .common import files_digest, nonempty, require_dir, require_file, resolve_root
from .errors import BadSampleError
from .imageio import read_image
from ...errors import BadInputError, UsageError


@dataclass(frozen=True)
class CocoImage:
    """One indexed image: where it is, its declared size, its annotations (json order by id).
    ``problem`` says what is wrong with its json record; reading the sample then raises it."""

    image_id: str
    path: Optional[Path]
    width: int
    height: int
    anns: object  # coco_index.AnnRange: (ann_id, segmentation, category, iscrowd) per annotation
    ann_file: Path
    condition: str = "clear"
    problem: str = ""


def _check_rle(seg: dict, h: int, w: int, where: str) -> dict:
    """A pycocotools RLE whose runs are non-negative and cover exactly h*w pixels: pycocotools
    fills a short RLE with uninitialised memory and rejects only long ones."""
    size = seg["size"]
    if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(_is_int(v) for v in size)):
        raise BadSampleError(where, f"RLE size must be [height, width], got {size!r}")
    if [int(v) for v in size] != [h, w]:
        raise BadSampleError(where, f"RLE size {list(size)} differs from the image size [{h}, {w}]")
    counts = seg["counts"]
    if isinstance(counts, list):
        if not all(_is_int(c) for c in counts):
            raise BadSampleError(where, "uncompressed RLE counts must be integers")
        runs = counts
    elif isinstance(counts, (str, bytes)):
        try:
            runs = rle_counts(counts)
        except (ValueError, UnicodeEncodeError) as e:
            raise BadSampleError(where, f"corrupt compressed RLE: {e}") from None
    else:
        raise BadSampleError(where, f"RLE counts must be a list or a string, got {type(counts).__name__}")
    if any(r < 0 for r in runs) or sum(runs) != h * w:
        raise BadSampleError(where, f"RLE runs cover {sum(runs)} pixels (min run {min(runs, default=0)}), "
                                    f"not the image's {h}x{w} = {h * w}")
    if isinstance(counts, list):
        return mask_utils.frPyObjects(seg, h, w)
    return {"size": [h, w], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.number)) and not isinstance(v, bool) and bool(np.isfinite(v))


def decode_segmentation(seg, h: int, w: int, where: str) -> np.ndarray:
    """A COCO ``segmentation`` (polygon list, uncompressed or compressed RLE) -> HxW bool.
    Polygon parts with fewer than 3 points enclose no pixel and are ignored (pycocotools would read
    a 4-number first part as a box); an odd coordinate count or a non-finite one is an error. Every
    coordinate must lie within the image extended by its own size on each side before pycocotools
    sees it: its rasteriser allocates by coordinate range and crashes (SIGSEGV) on a huge finite one,
    while real annotations overshoot the border by at most a few pixels."""
    if isinstance(seg, list):
        for k, p in enumerate(seg):
            if not isinstance(p, list):
                raise BadSampleError(where, f"polygon segmentation must be a list of coordinate lists; part {k} is "
                                            f"a {type(p).__name__}")
            if len(p) % 2:
                raise BadSampleError(where, f"polygon part {k} has an odd number of coordinates ({len(p)})")
            if not all(_is_number(c) for c in p):
                raise BadSampleError(where, f"polygon part {k} has a coordinate that is not a finite number")
            if p and not (-w <= min(p[0::2]) and max(p[0::2]) <= 2 * w and -h <= min(p[1::2]) and max(p[1::2]) <= 2 * h):
                raise BadSampleError(where, f"polygon part {k} has a coordinate outside [-{w}, {2 * w}] x [-{h}, {2 * h}] "
                                            f"(the {w}x{h} image extended by its size on each side)")
        polys = [p for p in seg if len(p) >= 6]
        if not polys:
            return np.zeros((h, w), bool)
        rle = mask_utils.merge(mask_utils.frPyObjects(polys, h, w))
    elif isinstance(seg, dict) and "counts" in seg and "size" in seg:
        rle = _check_rle(seg, h, w, where)
    elif seg is None:
        raise BadSampleError(where, "annotation has no 'segmentation'")
    else:
        raise BadSampleError(where, f"unrecognised segmentation of type {type(seg).__name__}")
    return mask_utils.decode(rle).astype(bool)


def _image_problem(img: dict) -> str:
    missing = [k for k in ("height", "width") if k not in img]
    if missing:
        return f"image record has no {' or '.join(map(repr, missing))}"
    if not (_is_int(img["height"]) and _is_int(img["width"]) and img["height"] > 0 and img["width"] > 0):
        return f"image height/width must be positive integers, got {img['height']!r}x{img['width']!r}"
    return ""


def file_in(folder: Path, name, what: str = "file_name") -> Path:
    """``folder / name`` for a relative name that stays inside ``folder`` (json is untrusted input:
    an absolute name or one with ``..`` would read files from elsewhere into a build)."""
    if not isinstance(name, str) or not name:
        raise BadInputError(f"image record has no usable {what!r} ({name!r})")
    rel = Path(name.replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts:
        raise BadInputError(f"{what} {name!r} points outside the image folder {folder}")
    return folder / rel


def index_coco_json(ann_file: Path, image_path, source: str, condition: str = "clear") -> list[CocoImage]:
    """Images sorted by id, each with its annotations; ``image_path(img_record) -> Path``.

    Errors that make the file unusable (missing lists, records without ids, duplicate ids, wrong id
    or ``iscrowd`` types, dangling image or category ids) raise ValueError here (see ``coco_index``,
    which parses the json once per content and shares it with every worker); a bad image record or
    annotation (missing file_name, size or segmentation) is kept as that image's ``problem`` or
    raised by ``decode_segmentation``, so ``--skip-bad`` skips only that sample."""
    index = load_index(ann_file, f"{source}: {ann_file}")
    out = []
    for k, img in enumerate(index.images):
        problem = _image_problem(img)
        try:
            path = image_path(img)
        except ValueError as e:
            path, problem = None, problem or str(e)
        h, w = (0, 0) if problem else (int(img["height"]), int(img["width"]))
        out.append(CocoImage(str(img["id"]), path, w, h, index.anns(k), ann_file, condition, problem))
    return out


class _CocoLike(Source):
    """Shared by the COCO-format readers: ``self.ann_files`` and ``self.items`` set by subclasses."""

    root: Path
    ann_files: list[Path]
    items: list[CocoImage]

    def __len__(self) -> int:
        return len(self.items)

    def params(self) -> dict:
        return {"root": str(self.root), "annotations_sha256": files_digest(self.ann_files, self.root)}

    def __getitem__(self, index: int) -> Sample:
        item = self.items[index]
        if item.problem:
            raise BadSampleError(f"{item.ann_file} (image {item.image_id})", item.problem)
        image = read_image(item.path, root=self.root)
        if image.shape[:2] != (item.height, item.width):
            raise BadSampleError(item.path, f"image is {image.shape[1]}x{image.shape[0]} but the json says "
                                            f"{item.width}x{item.height}")
        objects = []
        for ann_id, seg, cat, crowd in item.anns:
            mask = decode_segmentation(seg, item.height, item.width, f"{item.ann_file} (annotation {ann_id})")
            objects.append(ObjectAnn(id=int(ann_id), mask=mask, category=cat, iscrowd=crowd))
        return Sample(image_id=item.image_id, image=image, objects=nonempty(objects), source=self.name,
                      condition=item.condition)


@register_source("coco", description="COCO instances json (polygons, RLE, iscrowd) with its image folder",
                 layout="<root>/<annotations> (e.g. annotations/instances_val2017.json), images at "
                        "<root>/<images>/<file_name> (e.g. val2017/000000000139.jpg)")
class CocoSource(_CocoLike):
    license = "CC-BY-4.0 (COCO annotations); images under their Flickr licences"
    citation = ("@inproceedings{lin2014coco, title={Microsoft COCO: Common Objects in Context}, author={Lin, "
                "Tsung-Yi and others}, booktitle={ECCV}, year={2014}}")
    homepage = "https://cocodataset.org"

    def __init__(self, root: str | os.PathLike, annotations: str = "annotations/instances_val2017.json",
                 images: str = "val2017"):
        self.root = resolve_root(root, self.name)
        ann = require_file(self.root / annotations, self.name, "annotation file")
        img_dir = require_dir(self.root / images, self.name, "image")
        self.ann_files = [ann]
        self.options = {"annotations": annotations, "images": images}
        self.items = index_coco_json(ann, lambda r: file_in(img_dir, r.get("file_name")), self.name)

    def params(self) -> dict:
        return super().params() | self.options


def _lvis_image_path(root: Path, rec: dict) -> Path:
    """LVIS v1 images carry no file_name: the COCO folder and name come from coco_url."""
    if "file_name" in rec:  # LVIS v0.5
        return file_in(root, rec["file_name"])
    url = rec.get("coco_url")
    parts = urlparse(url).path.rstrip("/").split("/") if isinstance(url, str) else []
    if len(parts) < 2:
        raise BadInputError(f"image record has neither 'file_name' nor a usable 'coco_url' ({url!r})")
    return file_in(root, f"{parts[-2]}/{parts[-1]}", "coco_url")


@register_source("lvis", description="LVIS v1 / v0.5 json over the COCO 2017 images",
                 layout="<root>/<annotations> (e.g. lvis_v1_val.json); images at <root>/<split>2017/<name> "
                        "taken from each image's coco_url (v1) or file_name (v0.5)")
class LvisSource(_CocoLike):
    license = "CC-BY-4.0 (LVIS annotations); images under their Flickr licences"
    citation = ("@inproceedings{gupta2019lvis, title={LVIS: A Dataset for Large Vocabulary Instance Segmentation}, "
                "author={Gupta, Agrim and Dollar, Piotr and Girshick, Ross}, booktitle={CVPR}, year={2019}}")
    homepage = "https://www.lvisdataset.org"

    def __init__(self, root: str | os.PathLike, annotations: str = "lvis_v1_val.json"):
        self.root = resolve_root(root, self.name)
        ann = require_file(self.root / annotations, self.name, "annotation file")
        self.ann_files = [ann]
        self.options = {"annotations": annotations}
        self.items = index_coco_json(ann, lambda r: _lvis_image_path(self.root, r), self.name)

    def params(self) -> dict:
        return super().params() | self.options


LIS_LIGHTING = {  # lighting -> (annotation file pattern, image folder, condition)
    "dark": ("lis_coco_JPG_{split}+1.json", "RGB-dark", "low_light"),
    "normal": ("lis_coco_png_{split}.json", "RGB-normal", "clear"),
}


def _lis_image_path(folder: Path, file_name) -> Path:
    """``file_name`` relative to the lighting folder, or (as in the README tree) under JPEGImages/."""
    direct = file_in(folder, file_name)
    return direct if direct.exists() else folder / "JPEGImages" / direct.name


@register_source("lis", description="LIS low-light instance segmentation (COCO json); dark sRGB images have "
                                    "condition low_light, their normal-light pairs clear",
                 layout="<root>/{RGB-dark,RGB-normal}/JPEGImages/<n>.{JPG,png} + "
                        "<root>/annotations/lis_coco_JPG_<split>+1.json (dark), lis_coco_png_<split>.json (normal)")
class LisSource(_CocoLike):
    real_conditions = True
    license = "research use (LIS authors; see the LIS repository)"
    citation = ("@article{LIS, title={Instance Segmentation in the Dark}, author={Chen, Linwei and Fu, Ying and "
                "Wei, Kaixuan and Zheng, Dezhi and Heide, Felix}, journal={International Journal of Computer "
                "Vision}, year={2023}}")
    homepage = "https://github.com/Linwei-Chen/LIS"

    def __init__(self, root: str | os.PathLike, split: str = "test", lighting: str = "dark,normal"):
        self.root = resolve_root(root, self.name)
        if split not in ("train", "test", "traintest"):
            raise UsageError(f"lis: split must be train, test or traintest, not {split!r}")
        wanted = [s.strip() for s in lighting.split(",") if s.strip()]
        bad = [s for s in wanted if s not in LIS_LIGHTING]
        if bad or not wanted:
            raise UsageError(f"lis: lighting must be a comma list of {', '.join(LIS_LIGHTING)}, not {lighting!r}")
        self.options = {"split": split, "lighting": ",".join(wanted)}
        self.ann_files, items = [], []
        for light in wanted:
            pattern, folder, condition = LIS_LIGHTING[light]
            ann = require_file(self.root / "annotations" / pattern.format(split=split), self.name, "annotation file")
            img_dir = require_dir(self.root / folder, self.name, "image")
            self.ann_files.append(ann)
            for it in index_coco_json(ann, lambda r, d=img_dir: _lis_image_path(d, r.get("file_name")), self.name,
                                      condition):
                # LIS numbers dark and normal shots apart (even/odd), so the file stem is unique across both
                stem = it.path.stem if it.path is not None else it.image_id
                items.append(CocoImage(f"{light}_{stem}", it.path, it.width, it.height, it.anns, ann, condition,
                                       it.problem))
        self.items = sorted(items, key=lambda it: it.image_id)

    def params(self) -> dict:
        return super().params() | self.options
