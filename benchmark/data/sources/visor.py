"""EPIC-KITCHENS VISOR sparse ground truth: one json per video whose ``video_annotations`` list holds, per
annotated frame, ``image`` (``name``, ``video``, ...) and ``annotations`` (one per mask: ``id``, ``name``
the open-vocabulary entity, ``segments`` a list of [[x, y], ...] polygons). The polygons are in 1920x1080
pixels, the resolution VISOR's own mask script draws sparse annotations at, and are painted in list order
(a later mask covers an earlier one), so each object is the visible part of its polygons.

Frames are read from the released sparse frames, extracted per video: ``rgb_frames/<split>/<video>/<name>``.
An empty polygon part draws nothing here (VISOR's script fills the single pixel (0, 0) for it)."""
from __future__ import annotations

import os

from ..schema import Sample
from .base import Source, register_source
from .coco import _is_int, file_in
from .common import files_digest, load_json_in, require_dir, resolve_root
from .errors import BadSampleError
from .imageio import read_image
from .polygons import visible_objects
from ...errors import BadInputError, UsageError

SIZE = (1080, 1920)  # (height, width) of the sparse annotations' coordinate frame


def _frames(data, where: str) -> list:
    frames = data.get("video_annotations") if isinstance(data, dict) else None
    if not isinstance(frames, list) or not all(isinstance(f, dict) for f in frames):
        raise BadInputError(f"{where}: 'video_annotations' must be a list of frame objects (is it a VISOR json?)")
    for k, f in enumerate(frames):
        img, anns = f.get("image"), f.get("annotations")
        if not isinstance(img, dict) or not all(isinstance(img.get(x), str) and img[x] for x in ("name", "video")):
            raise BadInputError(f"{where}: frame {k}: 'image' needs the texts 'name' and 'video'")
        if not isinstance(anns, list) or not all(isinstance(a, dict) and _is_int(a.get("id")) and
                                                 isinstance(a.get("name"), str) for a in anns):
            raise BadInputError(f"{where}: frame {k} ({img['name']}): 'annotations' must be a list of masks with an "
                                f"integer 'id' and a text 'name'")
    return frames


@register_source("visor", description="EPIC-KITCHENS VISOR sparse masks (one json per video); objects are the visible "
                                      "parts of the entity polygons in list order",
                 layout="<root>/annotations/<split>/<video>.json + frames at <root>/rgb_frames/<split>/<video>/<name> "
                        "(the sparse frame zips extracted per video; split: val, train)")
class VisorSource(Source):
    license = "CC BY-NC 4.0 (VISOR annotations, University of Bristol); EPIC-KITCHENS frames under their terms"
    citation = ("@inproceedings{darkhalil2022visor, title={EPIC-KITCHENS VISOR Benchmark: VIdeo Segmentations and "
                "Object Relations}, author={Darkhalil, Ahmad and Shan, Dandan and Zhu, Bin and Ma, Jian and Kar, Amlan "
                "and Higgins, Richard and Fidler, Sanja and Fouhey, David and Damen, Dima}, booktitle={NeurIPS "
                "Datasets and Benchmarks}, year={2022}}")
    homepage = "https://epic-kitchens.github.io/VISOR/"

    def __init__(self, root: str | os.PathLike, split: str = "val"):
        self.root = resolve_root(root, self.name)
        if split not in ("val", "train"):
            raise UsageError(f"visor: split must be val or train (the splits with public masks), not {split!r}")
        ann_dir = require_dir(self.root / "annotations" / split, self.name, "annotation")
        frame_dir = require_dir(self.root / "rgb_frames" / split, self.name, "frame")
        self.split, self.ann_files, self.items = split, sorted(ann_dir.glob("*.json")), []
        for ann in self.ann_files:
            for f in _frames(load_json_in(ann, self.root, self.name), f"{self.name}: {ann}"):
                img = f["image"]
                try:
                    path = file_in(frame_dir, f"{img['video']}/{img['name']}", "image name")
                except ValueError as e:
                    raise BadInputError(f"{self.name}: {ann}: {e}") from None
                self.items.append((path.stem, path, ann, f["annotations"]))
        self.items.sort(key=lambda it: it[0])
        for a, b in zip(self.items, self.items[1:]):
            if a[0] == b[0]:
                raise BadInputError(f"{self.name}: frame {a[0]!r} is annotated twice ({a[2].name}, {b[2].name})")

    def __len__(self) -> int:
        return len(self.items)

    def params(self) -> dict:
        return {"root": str(self.root), "split": self.split, "annotations": files_digest(self.ann_files, self.root)}

    def __getitem__(self, index: int) -> Sample:
        image_id, path, ann, masks = self.items[index]
        image = read_image(path, root=self.root)
        if image.shape[:2] != SIZE:
            raise BadSampleError(path, f"frame is {image.shape[1]}x{image.shape[0]}; VISOR's sparse polygons are in "
                                       f"{SIZE[1]}x{SIZE[0]} pixels")
        regions = []
        for m in masks:
            if not isinstance(m.get("segments"), list):
                raise BadSampleError(ann, f"{image_id}: mask {m['id']} has no 'segments' list")
            regions.append((int(m["id"]), m["name"], [p for p in m["segments"] if p]))  # [] parts draw nothing
        objects = visible_objects(regions, *SIZE, f"{ann} ({image_id})")
        return Sample(image_id=image_id, image=image, objects=objects, source=self.name)
