"""Cityscapes-style ``*_instanceIds.png`` decoding (shared with ACDC) and a Cityscapes reader.

In an instanceIds map a pixel value >= 1000 is ``class_id * 1000 + k``, one instance of a
"thing" class; a value < 1000 is a plain class id. Thing pixels without an instance number are
groups (e.g. a row of parked cars): they become ``iscrowd`` objects when ``groups`` is on."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..schema import ObjectAnn, Sample
from .base import Source, register_source
from .common import check_same_size, require_dir, resolve_root
from .errors import BadSampleError
from .imageio import read_image, read_mask

# Cityscapes labels with hasInstances=True (cityscapesScripts helpers/labels.py)
MAX_LABEL_ID = 33  # 'bicycle'; 'license plate' (-1) is never drawn into the id maps
THING_CLASSES = {24: "person", 25: "rider", 26: "car", 27: "truck", 28: "bus", 29: "caravan", 30: "trailer",
                 31: "train", 32: "motorcycle", 33: "bicycle"}


def decode_instance_ids(ids: np.ndarray, path: Path, groups: bool = True) -> list[ObjectAnn]:
    """Objects of an HxW instanceIds map, sorted by id; stuff classes are not objects."""
    if ids.ndim != 2:
        raise BadSampleError(path, f"instanceIds map must be single-channel, got shape {ids.shape}")
    ids = ids.astype(np.int64)
    values = np.unique(ids)
    bad = [int(v) for v in values if not (0 <= v <= MAX_LABEL_ID or (v >= 1000 and v // 1000 in THING_CLASSES))]
    if bad:
        raise BadSampleError(path, f"unexpected values {bad[:5]} in an instanceIds map: a value is a label id "
                                   f"0..{MAX_LABEL_ID} or thing class * 1000 + instance (classes "
                                   f"{min(THING_CLASSES)}..{max(THING_CLASSES)})")
    objects = []
    for v in values:
        v = int(v)
        cls, crowd = (v // 1000, False) if v >= 1000 else (v, True)
        if cls not in THING_CLASSES or (crowd and not groups):
            continue
        objects.append(ObjectAnn(id=v, mask=ids == v, category=THING_CLASSES[cls], iscrowd=crowd))
    return objects


@register_source("cityscapes", description="Cityscapes leftImg8bit + gtFine instanceIds (thing classes)",
                 layout="<root>/leftImg8bit/<split>/<city>/<name>_leftImg8bit.png + "
                        "<root>/gtFine/<split>/<city>/<name>_gtFine_instanceIds.png")
class CityscapesSource(Source):
    license = "Cityscapes Dataset License (non-commercial research and teaching, no redistribution)"
    citation = ("@inproceedings{Cordts2016Cityscapes, title={The Cityscapes Dataset for Semantic Urban Scene "
                "Understanding}, author={Cordts, Marius and others}, booktitle={CVPR}, year={2016}}")
    homepage = "https://www.cityscapes-dataset.com"

    def __init__(self, root: str | os.PathLike, split: str = "val", gt: str = "gtFine", groups: bool = True):
        self.root = resolve_root(root, self.name)
        img_dir = require_dir(self.root / "leftImg8bit" / split, self.name, "image")
        self.gt_dir = require_dir(self.root / gt / split, self.name, "ground-truth")
        self.split, self.gt, self.groups = split, gt, groups
        self.images = sorted(img_dir.glob("*/*_leftImg8bit.png"))

    def __len__(self) -> int:
        return len(self.images)

    def params(self) -> dict:
        return {"root": str(self.root), "split": self.split, "gt": self.gt, "groups": self.groups}

    def __getitem__(self, index: int) -> Sample:
        img_path = self.images[index]
        stem = img_path.name[: -len("_leftImg8bit.png")]
        gt_path = self.gt_dir / img_path.parent.name / f"{stem}_{self.gt}_instanceIds.png"
        image = read_image(img_path, root=self.root)
        ids = read_mask(gt_path, root=self.root)
        check_same_size(ids, image, gt_path, img_path)
        return Sample(image_id=stem, image=image, objects=decode_instance_ids(ids, gt_path, self.groups),
                      source=self.name)
