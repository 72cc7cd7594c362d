"""COCO-format instance json readers: COCO, LVIS and LIS (low light, its lighting as the condition).

Masks are decoded exactly as ``pycocotools.COCO.annToMask`` does (polygons and uncompressed RLE
through ``frPyObjects``, polygons of one object merged); the json ``area`` is ignored (the schema
recomputes it from the mask). Annotations whose mask has no pixel are dropped."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
from pycocotools import mask as mask_utils

from ..schema import ObjectAnn, Sample
from .base import Source, register_source
from .common import files_digest, load_json, nonempty, require_dir, require_file, resolve_root
from .errors import BadSampleError
from .imageio import read_image


@dataclass(frozen=True)
class CocoImage:
    """One indexed image: where it is, its declared size, its annotations (json order by id)."""

    image_id: str
    path: Path
    width: int
    height: int
    anns: tuple
    ann_file: Path
    condition: str = "clear"


def decode_segmentation(seg, h: int, w: int, where: str) -> np.ndarray:
    """A COCO ``segmentation`` (polygon list, uncompressed or compressed RLE) -> HxW bool."""
    if isinstance(seg, list):
        polys = [p for p in seg if len(p) >= 6]  # fewer than 3 points encloses no pixel
        if not polys:
            return np.zeros((h, w), bool)
        rle = mask_utils.merge(mask_utils.frPyObjects(polys, h, w))
    elif isinstance(seg, dict) and "counts" in seg and "size" in seg:
        if [int(s) for s in seg["size"]] != [h, w]:
            raise BadSampleError(where, f"RLE size {seg['size']} differs from the image size [{h}, {w}]")
        rle = mask_utils.frPyObjects(seg, h, w) if isinstance(seg["counts"], list) else \
            {"size": seg["size"], "counts": seg["counts"].encode("ascii") if isinstance(seg["counts"], str)
             else seg["counts"]}
    else:
        raise BadSampleError(where, f"unrecognised segmentation of type {type(seg).__name__}")
    return mask_utils.decode(rle).astype(bool)


def index_coco_json(ann_file: Path, image_path, source: str, condition: str = "clear") -> list[CocoImage]:
    """Images sorted by id, each with its annotations; ``image_path(img_record) -> Path``."""
    data = load_json(ann_file, source)
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise ValueError(f"{source}: {ann_file} has no {key!r} list; is it an instances json?")
    cats = {c["id"]: c["name"] for c in data["categories"]}
    by_image: dict = {img["id"]: [] for img in data["images"]}
    for a in data["annotations"]:
        if a["image_id"] not in by_image:
            raise ValueError(f"{source}: {ann_file}: annotation {a.get('id')} names image {a['image_id']}, "
                             "which is not in 'images'")
        if a["category_id"] not in cats:
            raise ValueError(f"{source}: {ann_file}: annotation {a.get('id')} has unknown category {a['category_id']}")
        by_image[a["image_id"]].append(a)
    out = []
    for img in sorted(data["images"], key=lambda r: r["id"]):
        anns = tuple((a.get("id", k), a["segmentation"], cats[a["category_id"]], bool(a.get("iscrowd", 0)))
                     for k, a in enumerate(sorted(by_image[img["id"]], key=lambda a: a.get("id", 0))))
        out.append(CocoImage(str(img["id"]), image_path(img), int(img["width"]), int(img["height"]), anns, ann_file,
                             condition))
    return out


class _CocoLike(Source):
    """Shared by the COCO-format readers: ``self.ann_files`` and ``self.items`` set by subclasses."""

    root: Path
    ann_files: list[Path]
    items: list[CocoImage]

    def __len__(self) -> int:
        return len(self.items)

    def params(self) -> dict:
        return {"root": str(self.root), "annotations": files_digest(self.ann_files, self.root)}

    def __getitem__(self, index: int) -> Sample:
        item = self.items[index]
        image = read_image(item.path)
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
        self.items = index_coco_json(ann, lambda r: img_dir / r["file_name"], self.name)

    def params(self) -> dict:
        return super().params() | self.options


def _lvis_image_path(root: Path, rec: dict) -> Path:
    """LVIS v1 images carry no file_name: the COCO folder and name come from coco_url."""
    if "file_name" in rec:  # LVIS v0.5
        return root / rec["file_name"]
    parts = urlparse(rec["coco_url"]).path.rstrip("/").split("/")
    return root / parts[-2] / parts[-1]


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


def _lis_image_path(folder: Path, file_name: str) -> Path:
    """``file_name`` relative to the lighting folder, or (as in the README tree) under JPEGImages/."""
    direct = folder / file_name
    return direct if direct.exists() else folder / "JPEGImages" / Path(file_name).name


@register_source("lis", description="LIS low-light instance segmentation (COCO json); dark sRGB images have "
                                    "condition low_light, their normal-light pairs clear",
                 layout="<root>/{RGB-dark,RGB-normal}/JPEGImages/<n>.{JPG,png} + "
                        "<root>/annotations/lis_coco_JPG_<split>+1.json (dark), lis_coco_png_<split>.json (normal)")
class LisSource(_CocoLike):
    license = "research use (LIS authors; see the LIS repository)"
    citation = ("@article{LIS, title={Instance Segmentation in the Dark}, author={Chen, Linwei and Fu, Ying and "
                "Wei, Kaixuan and Zheng, Dezhi and Heide, Felix}, journal={International Journal of Computer "
                "Vision}, year={2023}}")
    homepage = "https://github.com/Linwei-Chen/LIS"

    def __init__(self, root: str | os.PathLike, split: str = "test", lighting: str = "dark,normal"):
        self.root = resolve_root(root, self.name)
        if split not in ("train", "test", "traintest"):
            raise ValueError(f"lis: split must be train, test or traintest, not {split!r}")
        wanted = [s.strip() for s in lighting.split(",") if s.strip()]
        bad = [s for s in wanted if s not in LIS_LIGHTING]
        if bad or not wanted:
            raise ValueError(f"lis: lighting must be a comma list of {', '.join(LIS_LIGHTING)}, not {lighting!r}")
        self.options = {"split": split, "lighting": ",".join(wanted)}
        self.ann_files, items = [], []
        for light in wanted:
            pattern, folder, condition = LIS_LIGHTING[light]
            ann = require_file(self.root / "annotations" / pattern.format(split=split), self.name, "annotation file")
            img_dir = require_dir(self.root / folder, self.name, "image")
            self.ann_files.append(ann)
            for it in index_coco_json(ann, lambda r, d=img_dir: _lis_image_path(d, r["file_name"]), self.name, condition):
                # LIS numbers dark and normal shots apart (even/odd), so the file stem is unique across both
                items.append(CocoImage(f"{light}_{it.path.stem}", it.path, it.width, it.height, it.anns, ann, condition))
        self.items = sorted(items, key=lambda it: it.image_id)

    def params(self) -> dict:
        return super().params() | self.options
