"""Objects from polygon regions painted in order, as WoodScape's and VISOR's own mask scripts paint them:
a later region covers an earlier one, so each object is the part of its region left visible. Points come
as [[x, y], ...] lists and are rasterised with the COCO polygon rasteriser (pycocotools), with its
coordinate bounds check."""
from __future__ import annotations

import numpy as np

from ..schema import ObjectAnn
from .coco import decode_segmentation
from .common import nonempty
from .errors import BadSampleError


def flat_points(points, where: str) -> list:
    """[x0, y0, x1, y1, ...] of a [[x, y], ...] polygon."""
    if not isinstance(points, list) or not all(isinstance(p, list) and len(p) == 2 for p in points):
        raise BadSampleError(where, "a polygon must be a list of [x, y] points")
    return [c for p in points for c in p]


def visible_objects(regions: list[tuple[int, str, list]], h: int, w: int, where: str) -> list[ObjectAnn]:
    """``regions``: (object id, category, polygons as [[x, y], ...] lists) in painting order; returns the
    objects sorted by id, each the visible part of the union of its polygons (empty ones dropped)."""
    masks = [decode_segmentation([flat_points(p, f"{where} (object {oid})") for p in polys], h, w,
                                 f"{where} (object {oid})") for oid, _, polys in regions]
    covered = np.zeros((h, w), bool)
    objects = []
    for (oid, cat, _), mask in reversed(list(zip(regions, masks))):  # topmost first
        objects.append(ObjectAnn(id=oid, mask=mask & ~covered, category=cat))
        covered |= mask
    return nonempty(sorted(objects, key=lambda o: o.id))
