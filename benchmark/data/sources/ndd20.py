"""NDD20 (Northumberland Dolphin Dataset 2020): above- and below-water dolphin photos with VGG Image
Annotator (VIA) json labels, one polygon region per dolphin (fin outline above water, body below).

Regions are rasterised with the COCO polygon rasteriser (pycocotools), the same as any COCO
polygon in this package; the category is the region's ``species`` attribute when present."""
from __future__ import annotations

import os
from pathlib import Path

from ..schema import ObjectAnn, Sample
from .base import Source, register_source
from .coco import decode_segmentation, file_in
from .common import files_digest, load_json, nonempty, require_dir, require_file, resolve_root
from .errors import BadSampleError
from .imageio import read_image
from ...errors import BadInputError, UsageError

VIEWS = {"above": ("ABOVE", "ABOVE_LABELS.json"), "below": ("BELOW", "BELOW_LABELS.json")}


def _regions(regions, where: str) -> list:
    """VIA 1 keeps regions in a dict keyed "0", "1", ...; VIA 2 in a list."""
    if isinstance(regions, dict):
        if not all(isinstance(k, str) and k.isdigit() for k in regions):
            raise BadSampleError(where, f"VIA regions keys must be numbers, got {sorted(regions)[:5]}")
        regions = [regions[k] for k in sorted(regions, key=int)]
    if not isinstance(regions, list) or not all(isinstance(r, dict) for r in regions):
        raise BadSampleError(where, "VIA 'regions' must be a list (or numbered dict) of region objects")
    return regions


def _polygon(region: dict, where: str) -> list:
    """Flat [x0, y0, x1, y1, ...] of a VIA polygon/polyline region."""
    shape = region.get("shape_attributes")
    if not isinstance(shape, dict) or shape.get("name") not in ("polygon", "polyline"):
        name = shape.get("name") if isinstance(shape, dict) else None
        raise BadSampleError(where, f"unsupported VIA shape {name!r} (polygon or polyline expected)")
    xs, ys = shape.get("all_points_x"), shape.get("all_points_y")
    if not isinstance(xs, list) or not isinstance(ys, list):
        raise BadSampleError(where, "VIA polygon needs the lists 'all_points_x' and 'all_points_y'")
    if len(xs) != len(ys):
        raise BadSampleError(where, f"VIA polygon has {len(xs)} x but {len(ys)} y coordinates")
    return [c for pt in zip(xs, ys) for c in pt]


@register_source("ndd20", description="NDD20 dolphins above and below water (VIA polygon json)",
                 layout="<root>/ABOVE/<name>.jpg + <root>/ABOVE_LABELS.json, <root>/BELOW/<name>.jpg + "
                        "<root>/BELOW_LABELS.json")
class Ndd20Source(Source):
    license = "CC-BY-NC-SA-4.0"
    citation = ("@article{trotter2020ndd20, title={NDD20: A large-scale few-shot dolphin dataset for coarse and "
                "fine-grained categorisation}, author={Trotter, Cameron and Atkinson, Georgia and Sharpe, Matt and "
                "Richardson, Kirsten and McGough, A. Stephen and Wright, Nick and Burville, Ben and Berggren, Per}, "
                "journal={arXiv:2005.13359}, year={2020}}")
    homepage = "https://doi.org/10.25405/data.ncl.c.4982342"

    def __init__(self, root: str | os.PathLike, views: str = "above,below"):
        self.root = resolve_root(root, self.name)
        chosen = [v.strip() for v in views.split(",") if v.strip()]
        if not chosen or any(v not in VIEWS for v in chosen):
            raise UsageError(f"ndd20: views must be a comma list of {', '.join(VIEWS)}, not {views!r}")
        self.views, self.ann_files, self.items = chosen, [], []
        for v in chosen:
            folder, label_file = VIEWS[v]
            img_dir = require_dir(self.root / folder, self.name, "image")
            ann = require_file(self.root / label_file, self.name, "label file")
            self.ann_files.append(ann)
            data = load_json(ann, self.name)
            if not isinstance(data, dict):
                raise BadInputError(f"ndd20: {ann} must hold a JSON object of VIA entries, not a {type(data).__name__}")
            for key, entry in data.items():
                if not isinstance(entry, dict) or not isinstance(entry.get("filename"), str):
                    raise BadInputError(f"ndd20: {ann}: entry {key!r} has no 'filename'; is it a VIA json?")
                try:
                    path = file_in(img_dir, entry["filename"], "filename")
                except ValueError as e:
                    raise BadInputError(f"ndd20: {ann}: entry {key!r}: {e}") from None
                self.items.append((f"{v}_{Path(entry['filename']).stem}", path, ann, entry.get("regions", [])))
        self.items.sort(key=lambda it: it[0])

    def __len__(self) -> int:
        return len(self.items)

    def params(self) -> dict:
        return {"root": str(self.root), "views": ",".join(self.views), "annotations": files_digest(self.ann_files, self.root)}

    def __getitem__(self, index: int) -> Sample:
        image_id, path, ann, regions = self.items[index]
        image = read_image(path, root=self.root)
        h, w = image.shape[:2]
        objects = []
        for k, r in enumerate(_regions(regions, f"{ann} ({path.name})")):
            where = f"{ann} ({path.name} region {k})"
            mask = decode_segmentation([_polygon(r, where)], h, w, where)
            attrs = r.get("region_attributes")
            species = str((attrs if isinstance(attrs, dict) else {}).get("species", "") or "dolphin")
            objects.append(ObjectAnn(id=k + 1, mask=mask, category=species))
        return Sample(image_id=image_id, image=image, objects=nonempty(objects), source=self.name)
