"""BDD100K instance (and panoptic) segmentation, with each frame's weather and time of day as its condition.

Labels, as published (doc/source/format.rst of bdd100k/bdd100k):
- bitmasks: RGBA PNG, R = category id (0 = background), G = (truncated << 3) + (occluded << 2) +
  (crowd << 1) + ignore, instance id = (B << 8) + A. BDD evaluates against these; they are the default;
- polygons: Scalabel json, ``poly2d`` = vertices with types ``L`` (line) / ``C`` (cubic Bezier
  control point: two ``C`` and the next vertex form one cubic, as matplotlib's CURVE4); Beziers are
  flattened and the outline filled with the COCO polygon rasteriser, so masks differ from BDD's
  matplotlib-rendered bitmasks by a few boundary pixels and may overlap;
- rles: Scalabel json with a COCO compressed ``rle`` per label.
crowd and ignore regions become ``iscrowd`` objects. For ``pan_seg`` only "thing" segments
(person ... truck, ids 31-40) are objects.

Conditions (frame attributes, from the label json or the det_20 json of the same split):
weather rainy/snowy/foggy -> rainy/snowy/foggy, clear/overcast/partly cloudy -> nothing;
timeofday night -> night, dawn/dusk -> dawn_dusk, daytime -> nothing; the parts are joined with
``_`` (e.g. ``rainy_night``), nothing at all is ``clear``; a frame whose weather or time of day
is missing or ``undefined`` gets ``undefined``."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np

from ..schema import ObjectAnn, Sample
from .base import Source, register_source
from .coco import decode_segmentation
from .common import check_same_size, files_digest, load_json, nonempty, require_dir, require_file, resolve_root
from .errors import BadSampleError
from .imageio import read_image, read_mask
from ...errors import BadInputError, UsageError

INS_SEG_CATEGORIES = {1: "pedestrian", 2: "rider", 3: "car", 4: "truck", 5: "bus", 6: "train", 7: "motorcycle",
                      8: "bicycle"}
PAN_SEG_THINGS = {31: "person", 32: "rider", 33: "bicycle", 34: "bus", 35: "car", 36: "caravan", 37: "motorcycle",
                  38: "trailer", 39: "train", 40: "truck"}
WEATHER = {"rainy": "rainy", "snowy": "snowy", "foggy": "foggy", "clear": "", "overcast": "", "partly cloudy": ""}
TIME_OF_DAY = {"night": "night", "dawn/dusk": "dawn_dusk", "daytime": ""}
LABEL_FORMATS = ("bitmasks", "polygons", "rles")
TASKS = ("ins_seg", "pan_seg")
BEZIER_STEPS = 16


def bdd_condition(attributes: Optional[dict]) -> str:
    """The condition name of a frame's ``attributes`` (see the module doc for the mapping)."""
    attributes = attributes or {}
    weather, time = attributes.get("weather"), attributes.get("timeofday")
    if weather not in WEATHER or time not in TIME_OF_DAY:
        return "undefined"
    return "_".join(p for p in (WEATHER[weather], TIME_OF_DAY[time]) if p) or "clear"


def decode_bitmask(rgba: np.ndarray, path: Path, task: str = "ins_seg") -> list[ObjectAnn]:
    """Objects of a BDD100K RGBA bitmask, sorted by instance id."""
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise BadSampleError(path, f"BDD100K bitmasks are 8-bit RGBA, got shape {rgba.shape} of {rgba.dtype}")
    cat = rgba[..., 0].astype(np.int64)
    if task == "pan_seg" and cat.max() > max(PAN_SEG_THINGS):
        raise BadSampleError(path, f"category id {int(cat.max())} in the R channel; pan_seg ids are "
                                   f"0..{max(PAN_SEG_THINGS)}")
    attr = rgba[..., 1]
    ann = (rgba[..., 2].astype(np.int64) << 8) | rgba[..., 3].astype(np.int64)
    names = INS_SEG_CATEGORIES if task == "ins_seg" else PAN_SEG_THINGS
    key = np.where(cat > 0, (ann << 8) | cat, -1)  # an instance id with its category
    objects = []
    for k in np.unique(key):
        if k < 0 or int(k) & 0xFF not in names:
            continue
        m = key == k
        g = int(attr[m][0])
        objects.append(ObjectAnn(id=int(k) >> 8, mask=m, category=names[int(k) & 0xFF], iscrowd=bool(g & 0b11)))
    return objects


def flatten_poly2d(vertices: list, types: str) -> list[float]:
    """A closed Scalabel poly2d as a flat [x0, y0, x1, y1, ...] outline with Beziers sampled."""
    pts = [tuple(map(float, v)) for v in vertices]
    if any(len(p) != 2 or not np.isfinite(p).all() for p in pts):
        raise BadInputError("every poly2d vertex must be two finite numbers [x, y]")
    if len(types) != len(pts):
        raise BadInputError(f"poly2d has {len(pts)} vertices but {len(types)} types")
    ring = pts + [pts[0]]
    out = [pts[0]]
    i = 1
    while i < len(ring):
        if i < len(types) and types[i] == "C":
            if i + 2 >= len(ring):
                raise BadInputError("poly2d Bezier segment runs past the end of the outline")
            p0, c1, c2, p3 = map(np.asarray, (out[-1], ring[i], ring[i + 1], ring[i + 2]))
            t = np.linspace(0, 1, BEZIER_STEPS + 1)[1:, None]
            curve = (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * c1 + 3 * (1 - t) * t ** 2 * c2 + t ** 3 * p3
            out.extend(map(tuple, curve))
            i += 3
        else:
            out.append(ring[i])
            i += 1
    return [c for p in out[:-1] for c in p]


def label_mask(label: dict, h: int, w: int, where: str) -> Optional[np.ndarray]:
    """The mask of one Scalabel label (poly2d or rle); None for labels without a segmentation."""
    if label.get("rle"):
        return decode_segmentation(label["rle"], h, w, where)
    if label.get("poly2d"):
        try:
            polys = [flatten_poly2d(p["vertices"], p["types"]) for p in label["poly2d"]]
        except (KeyError, ValueError, TypeError) as e:
            what = f"missing field {e}" if isinstance(e, KeyError) else str(e)
            raise BadSampleError(where, f"bad poly2d: {what}") from None
        return decode_segmentation(polys, h, w, where)
    return None


def _frames(data, path: Path) -> list[dict]:
    """The frames of a Scalabel json (a list, or a dict with 'frames'), each with a 'name'."""
    frames = data["frames"] if isinstance(data, dict) and "frames" in data else data
    if not isinstance(frames, list):
        raise BadInputError(f"bdd100k: {path} is not a Scalabel label file (a list of frames or {{'frames': [...]}})")
    for k, f in enumerate(frames):
        if not isinstance(f, dict) or not isinstance(f.get("name"), str):
            raise BadInputError(f"bdd100k: {path}: frame {k} has no 'name'")
        if not isinstance(f.get("labels") or [], list) or not isinstance(f.get("attributes") or {}, dict):
            raise BadInputError(f"bdd100k: {path}: frame {f['name']!r}: 'labels' must be a list, 'attributes' an object")
    return frames


@register_source("bdd100k", description="BDD100K 10K instance/panoptic segmentation (bitmasks, poly2d or RLE json); "
                                        "frame weather and time of day as conditions",
                 layout="<root>/images/10k/<split>/<name>.jpg + <root>/labels/<task>/bitmasks/<split>/<name>.png "
                        "(or labels/<task>/polygons|rles/<task>_<split>.json); attributes from "
                        "<root>/labels/det_20/det_<split>.json")
class Bdd100kSource(Source):
    real_conditions = True
    license = ("BDD100K License (Regents of the University of California): educational, research and "
               "not-for-profit use; keep the copyright notice")
    citation = ("@inproceedings{bdd100k, title={BDD100K: A Diverse Driving Dataset for Heterogeneous Multitask "
                "Learning}, author={Yu, Fisher and Chen, Haofeng and Wang, Xin and Xian, Wenqi and Chen, Yingying and "
                "Liu, Fangchen and Madhavan, Vashisht and Darrell, Trevor}, booktitle={CVPR}, year={2020}}")
    homepage = "https://bdd-data.berkeley.edu"

    def __init__(self, root: str | os.PathLike, split: str = "val", task: str = "ins_seg", labels: str = "bitmasks",
                 attributes: str = "labels/det_20/det_{split}.json"):
        self.root = resolve_root(root, self.name)
        if task not in TASKS or labels not in LABEL_FORMATS:
            raise UsageError(f"bdd100k: task must be one of {TASKS} and labels one of {LABEL_FORMATS}")
        self.split, self.task, self.labels = split, task, labels
        self.image_dir = require_dir(self.root / "images" / "10k" / split, self.name, "image")
        self.ann_files: list[Path] = []
        self.json_labels: dict[str, list] = {}
        frame_attrs: dict[str, dict] = {}
        if labels == "bitmasks":
            mask_dir = require_dir(self.root / "labels" / task / "bitmasks" / split, self.name, "bitmask")
            self.names = [p.stem for p in sorted(mask_dir.glob("*.png"))]
            self.mask_dir = mask_dir
        else:
            ann = require_file(self.root / "labels" / task / labels / f"{task}_{split}.json", self.name, "label file")
            self.ann_files.append(ann)
            for f in _frames(load_json(ann, self.name), ann):
                stem = Path(f["name"]).stem
                self.json_labels[stem] = f.get("labels") or []
                if f.get("attributes"):
                    frame_attrs[stem] = f["attributes"]
            self.names = sorted(self.json_labels)
        if attributes:
            att = require_file(self.root / attributes.format(split=split), self.name, "attributes file")
            self.ann_files.append(att)
            for f in _frames(load_json(att, self.name), att):
                frame_attrs.setdefault(Path(f["name"]).stem, f.get("attributes") or {})
        self.conditions = {n: bdd_condition(frame_attrs.get(n)) for n in self.names}

    def __len__(self) -> int:
        return len(self.names)

    def params(self) -> dict:
        return {"root": str(self.root), "split": self.split, "task": self.task, "labels": self.labels,
                "annotations": files_digest(self.ann_files, self.root)}

    def __getitem__(self, index: int) -> Sample:
        name = self.names[index]
        img_path = self.image_dir / f"{name}.jpg"
        image = read_image(img_path, root=self.root)
        h, w = image.shape[:2]
        if self.labels == "bitmasks":
            mask_path = self.mask_dir / f"{name}.png"
            rgba = read_mask(mask_path, root=self.root)
            check_same_size(rgba, image, mask_path, img_path)
            objects = decode_bitmask(rgba, mask_path, self.task)
        else:
            objects = []
            for k, lab in enumerate(self.json_labels[name]):
                if not isinstance(lab, dict):
                    raise BadSampleError(self.ann_files[0], f"{name} label {k}: a label must be an object")
                if self.task == "pan_seg" and lab.get("category") not in PAN_SEG_THINGS.values():
                    continue
                m = label_mask(lab, h, w, f"{self.ann_files[0]} ({name} label {lab.get('id', k)})")
                if m is None:
                    continue
                a = lab.get("attributes") or {}
                objects.append(ObjectAnn(id=k + 1, mask=m, category=str(lab.get("category", "object")),
                                         iscrowd=bool(a.get("crowd") or a.get("ignore"))))
        return Sample(image_id=name, image=image, objects=nonempty(objects), source=self.name,
                      condition=self.conditions[name])
