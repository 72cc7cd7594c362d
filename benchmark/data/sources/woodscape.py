"""WoodScape fisheye driving images with their instance annotations: one json per image under
``instance_annotations/`` holding, under one key, ``image_width``, ``image_height`` and ``annotation``: a
list of polygons, each with ``tags`` (its class), ``segmentation`` ([[x, y], ...]) and ``z_order``.

As the dataset's own semantic-map script does, regions with other than exactly one tag are not used and
the polygons are painted in ``z_order`` (stable in file order), so a later polygon covers an earlier
one: each object is the part of its polygon that stays visible (``polygons.visible_objects``)."""
from __future__ import annotations

import os

from ..schema import Sample
from .base import Source, register_source
from .coco import _is_int, _is_number
from .common import load_json, require_dir, resolve_root
from .errors import BadSampleError
from .imageio import read_image
from .polygons import visible_objects
from ...errors import BadInputError
from ...paths import file_problem


def _entry(data, where: str) -> dict:
    if not isinstance(data, dict) or len(data) != 1 or not isinstance(next(iter(data.values())), dict):
        raise BadSampleError(where, "expected one object keyed by the image, holding 'annotation', 'image_width' "
                                    "and 'image_height'")
    entry = next(iter(data.values()))
    w, h, anns = entry.get("image_width"), entry.get("image_height"), entry.get("annotation")
    if not (_is_int(w) and _is_int(h) and w > 0 and h > 0):
        raise BadSampleError(where, f"image_width/image_height must be positive integers, got {w!r}x{h!r}")
    if not isinstance(anns, list) or not all(isinstance(a, dict) for a in anns):
        raise BadSampleError(where, "'annotation' must be a list of region objects")
    return entry


@register_source("woodscape", description="WoodScape fisheye images, instance polygons (one json per image); "
                                          "each object is the visible part of its polygon in z_order",
                 layout="<root>/rgb_images/<nnnnn>_<CAM>.png + <root>/instance_annotations/<nnnnn>_<CAM>.json")
class WoodscapeSource(Source):
    license = "WoodScape data licence (proprietary, linked from the WoodScape README): research use"
    citation = ("@inproceedings{yogamani2019woodscape, title={WoodScape: A multi-task, multi-camera fisheye dataset "
                "for autonomous driving}, author={Yogamani, Senthil and Hughes, Ciar{\\'a}n and Horgan, Jonathan and "
                "others}, booktitle={ICCV}, year={2019}}")
    homepage = "https://github.com/valeoai/WoodScape"

    def __init__(self, root: str | os.PathLike):
        self.root = resolve_root(root, self.name)
        self.image_dir = require_dir(self.root / "rgb_images", self.name, "image")
        ann_dir = require_dir(self.root / "instance_annotations", self.name, "instance annotation")
        self.anns = sorted(p for p in ann_dir.iterdir() if p.suffix == ".json" and not p.is_dir())

    def __len__(self) -> int:
        return len(self.anns)

    def params(self) -> dict:
        return {"root": str(self.root)}

    def __getitem__(self, index: int) -> Sample:
        ann_path = self.anns[index]
        img_path = self.image_dir / f"{ann_path.stem}.png"
        image = read_image(img_path, root=self.root)
        problem = file_problem(ann_path, self.root)
        if problem:
            raise BadSampleError(ann_path, problem)
        try:
            data = load_json(ann_path, self.name)
        except BadInputError:
            raise BadSampleError(ann_path, "is not valid JSON") from None
        entry = _entry(data, str(ann_path))
        h, w = image.shape[:2]
        if (entry["image_height"], entry["image_width"]) != (h, w):
            raise BadSampleError(ann_path, f"says {entry['image_width']}x{entry['image_height']} but the image is "
                                           f"{w}x{h}")
        regions = [(k, a) for k, a in enumerate(entry["annotation"])
                   if isinstance(a.get("tags"), list) and len(a["tags"]) == 1]
        for k, a in regions:
            if not _is_number(a.get("z_order")) or not isinstance(a["tags"][0], str):
                raise BadSampleError(ann_path, f"region {k}: needs a numeric 'z_order' and a text tag")
        regions.sort(key=lambda ka: ka[1]["z_order"])
        objects = visible_objects([(k + 1, a["tags"][0], [a.get("segmentation")]) for k, a in regions], h, w,
                                  str(ann_path))
        return Sample(image_id=ann_path.stem, image=image, objects=objects, source=self.name)
