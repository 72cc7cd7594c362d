"""ACDC: real fog, night, rain and snow frames, the condition taken from the folder.

Ground truth per frame, first found: Cityscapes-style ``gt/.../*_gt_instanceIds.png``; or
``gt_panoptic/.../*_gt_panoptic.png`` with its COCO-panoptic json (``panoptic_json``). A frame
with neither has zero objects (ACDC's test split and the README showcase frames ship no GT);
``require_gt=True`` makes that a BadSampleError instead. Reference frames
(``<split>_ref/.../*_rgb_ref_anon.png``: the same place in clear daytime, not pixel-aligned, no
GT) are included with ``references=True`` under the condition ``reference``."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..schema import ObjectAnn, Sample
from .base import Source, register_source
from .cityscapes import decode_instance_ids
from .common import check_same_size, files_digest, load_json, require_dir, require_file, resolve_root
from .errors import BadSampleError
from .imageio import read_image, read_mask
from ...errors import BadInputError, UsageError

CONDITIONS = ("fog", "night", "rain", "snow")
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class AcdcFrame:
    image_id: str
    path: Path
    condition: str
    rel: Path  # <condition>/<split>/<sequence> (split absent in split-less layouts)
    frame: str


def _frames(cond_dir: Path, condition: str, splits: list[str], references: bool) -> list[AcdcFrame]:
    children = {p.name for p in cond_dir.iterdir() if p.is_dir()}
    if children & (set(SPLITS) | {f"{s}_ref" for s in SPLITS}):
        folders = [cond_dir / s for s in splits if s in children]
        ref_folders = [cond_dir / f"{s}_ref" for s in splits if f"{s}_ref" in children] if references else []
    else:  # no split level (e.g. a hand-picked subset): sequences directly under the condition
        folders, ref_folders = [cond_dir], []
    out = []
    for folder in folders:
        for p in sorted(folder.glob("*/*_rgb_anon.png")):
            frame = p.name[: -len("_rgb_anon.png")]
            out.append(AcdcFrame(frame, p, condition, p.parent.relative_to(cond_dir.parent), frame))
    for folder in ref_folders:
        for p in sorted(folder.glob("*/*_rgb_ref_anon.png")):
            frame = p.name[: -len("_rgb_ref_anon.png")]
            out.append(AcdcFrame(f"{frame}_ref", p, "reference", p.parent.relative_to(cond_dir.parent), frame))
    return out


def decode_panoptic(png: np.ndarray, segments: list[dict], things: dict[int, str], path: Path) -> list[ObjectAnn]:
    """COCO panoptic PNG (id = R + 256 G + 256^2 B) -> one object per "thing" segment."""
    if png.ndim != 3 or png.shape[2] < 3:
        raise BadSampleError(path, f"panoptic PNG must be RGB, got shape {png.shape}")
    ids = png[..., 0].astype(np.int64) + 256 * png[..., 1].astype(np.int64) + 65536 * png[..., 2].astype(np.int64)
    listed = {s["id"] for s in segments}
    unlisted = [int(v) for v in np.unique(ids) if v != 0 and int(v) not in listed]
    if unlisted:  # as panopticapi's pq_compute refuses them
        raise BadSampleError(path, f"segment ids {unlisted[:5]} are in the PNG but not in its segments_info")
    out = []
    for seg in sorted(segments, key=lambda s: s["id"]):
        if seg["category_id"] in things:
            out.append(ObjectAnn(id=int(seg["id"]), mask=ids == seg["id"], category=things[seg["category_id"]],
                                 iscrowd=bool(seg.get("iscrowd", 0))))
    return out


def _panoptic_index(pj: Path, source: str) -> tuple[dict[int, str], dict[str, list]]:
    """(thing category id -> name, PNG file name -> segments_info) of a COCO-panoptic json."""
    data = load_json(pj, source)
    try:
        things = {c["id"]: str(c["name"]) for c in data["categories"] if c.get("isthing")}
        panoptic = {Path(a["file_name"]).name: a["segments_info"] for a in data["annotations"]}
        for name, segs in panoptic.items():
            for s in segs:
                if not (isinstance(s["id"], int) and isinstance(s["category_id"], int)):
                    raise BadInputError(f"{name}: segment ids and category ids must be integers")
    except (KeyError, TypeError, AttributeError) as e:
        what = f"missing field {e}" if isinstance(e, KeyError) else str(e)
        raise BadInputError(f"{source}: {pj} is not a COCO-panoptic json ('categories' with id/name/isthing, "
                         f"'annotations' with file_name/segments_info of id/category_id): {what}") from None
    return things, panoptic


@register_source("acdc", description="ACDC adverse-condition frames (fog, night, rain, snow) with instance or "
                                     "panoptic GT where present; optional clear reference frames",
                 layout="<root>/rgb_anon/<condition>/<split>/<sequence>/<frame>_rgb_anon.png, "
                        "<root>/gt/<condition>/<split>/<sequence>/<frame>_gt_instanceIds.png or "
                        "<root>/gt_panoptic/<condition>/<split>/<sequence>/<frame>_gt_panoptic.png + panoptic json")
class AcdcSource(Source):
    real_conditions = True
    license = "ACDC terms (non-commercial research only, no redistribution); images anonymised by the authors"
    citation = ("@inproceedings{SDV21, title={{ACDC}: The Adverse Conditions Dataset with Correspondences for "
                "Semantic Driving Scene Understanding}, author={Sakaridis, Christos and Dai, Dengxin and Van Gool, "
                "Luc}, booktitle={ICCV}, year={2021}}")
    homepage = "https://acdc.vision.ee.ethz.ch"

    def __init__(self, root: str | os.PathLike, conditions: str = "fog,night,rain,snow", splits: str = "train,val",
                 references: bool = False, panoptic_json: Optional[str] = None, require_gt: bool = False):
        self.root = resolve_root(root, self.name)
        rgb = require_dir(self.root / "rgb_anon", self.name, "image")
        conds = [c.strip() for c in conditions.split(",") if c.strip()]
        split_list = [s.strip() for s in splits.split(",") if s.strip()]
        if not conds or any(c not in CONDITIONS for c in conds):
            raise UsageError(f"acdc: conditions must be a comma list of {', '.join(CONDITIONS)}, not {conditions!r}")
        if not split_list or any(s not in SPLITS for s in split_list):
            raise UsageError(f"acdc: splits must be a comma list of {', '.join(SPLITS)}, not {splits!r}")
        self.options = {"conditions": ",".join(conds), "splits": ",".join(split_list), "references": references,
                        "panoptic_json": panoptic_json, "require_gt": require_gt}
        self.frames = [f for c in conds if (rgb / c).is_dir() for f in _frames(rgb / c, c, split_list, references)]
        self.panoptic: dict[str, list] = {}
        self.things: dict[int, str] = {}
        self.ann_files = []
        if panoptic_json:
            pj = require_file(self.root / panoptic_json, self.name, "panoptic json")
            self.things, self.panoptic = _panoptic_index(pj, self.name)
            self.ann_files = [pj]
        self.images_with_gt = sum(1 for f in self.frames if self._gt_path(f) is not None)

    def __len__(self) -> int:
        return len(self.frames)

    def params(self) -> dict:
        return {"root": str(self.root), **self.options, "annotations": files_digest(self.ann_files, self.root),
                "images_with_gt": self.images_with_gt}

    def _gt_path(self, f: AcdcFrame) -> Optional[Path]:
        if f.condition == "reference":
            return None
        inst = self.root / "gt" / f.rel / f"{f.frame}_gt_instanceIds.png"
        if inst.exists():
            return inst
        pan = self.root / "gt_panoptic" / f.rel / f"{f.frame}_gt_panoptic.png"
        return pan if pan.exists() and pan.name in self.panoptic else None

    def __getitem__(self, index: int) -> Sample:
        f = self.frames[index]
        image = read_image(f.path, root=self.root)
        gt = self._gt_path(f)
        objects: list[ObjectAnn] = []
        if gt is None:
            if self.options["require_gt"] and f.condition != "reference":
                raise BadSampleError(f.path, "no ground truth found (instanceIds PNG or panoptic PNG + json entry)")
        else:
            label = read_mask(gt, root=self.root)
            check_same_size(label, image, gt, f.path)
            objects = decode_instance_ids(label, gt) if gt.name.endswith("_gt_instanceIds.png") else \
                decode_panoptic(label, self.panoptic[gt.name], self.things, gt)
        return Sample(image_id=f.image_id, image=image, objects=[o for o in objects if o.mask.any()],
                      source=self.name, condition=f.condition)
