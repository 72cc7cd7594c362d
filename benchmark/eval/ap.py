"""Mask AP, AP50, AP75, APs, APm, APl through pycocotools' COCOeval (iouType "segm").

In the promptable setting every ground-truth instance is prompted once and yields one prediction;
its detection score is the model's own predicted score of the chosen mask (SAM's predicted IoU),
never a measured quantity. Size buckets use the ground-truth area as COCO does (small < 32^2 <=
medium < 96^2 <= large), by default the mask's pixel count. A bucket without ground truth is NaN
(pycocotools reports -1)."""
from __future__ import annotations

import contextlib
import io
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from ..errors import BadInputError

AP_METRICS = ("AP", "AP50", "AP75", "APs", "APm", "APl")

MaskLike = Union[np.ndarray, dict]


@dataclass
class Instance:
    """A ground-truth or predicted instance. ``mask``: bool (H, W) or COCO RLE of the image size."""

    mask: MaskLike
    category: Union[int, str] = 1
    score: float = 1.0  # predictions only
    iscrowd: bool = False  # ground truth only
    area: Optional[float] = None  # ground truth only; default the mask's pixel count


@dataclass
class ImageInstances:
    image_id: Union[int, str]
    height: int
    width: int
    gts: list[Instance] = field(default_factory=list)
    preds: list[Instance] = field(default_factory=list)


def _rle(mask: MaskLike, h: int, w: int, where: str) -> dict:
    if isinstance(mask, dict):
        if list(mask.get("size", [])) != [h, w]:
            raise BadInputError(f"{where}: RLE size {mask.get('size')} differs from the image size {[h, w]}")
        counts = mask["counts"]
        return {"size": [h, w], "counts": counts.encode() if isinstance(counts, str) else counts}
    m = np.asarray(mask)
    if m.shape != (h, w):
        raise BadInputError(f"{where}: mask shape {m.shape} differs from the image size {(h, w)}")
    return mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))


def coco_ap(images: Sequence[ImageInstances], max_dets: Optional[int] = None) -> dict[str, float]:
    """COCO mask AP metrics over ``images``; categories are matched as given (give every instance the
    same category for class-agnostic AP). ``max_dets`` defaults to the larger of 100 (COCO's) and the
    most predictions in one image, so no prompted instance is dropped."""
    cats: dict = {}
    gt_anns, dt_anns, imgs = [], [], []
    for n, im in enumerate(images, start=1):
        imgs.append({"id": n, "height": im.height, "width": im.width})
        for j, g in enumerate(im.gts):
            rle = _rle(g.mask, im.height, im.width, f"image {im.image_id} ground truth {j}")
            area = float(mask_utils.area(rle)) if g.area is None else float(g.area)
            gt_anns.append({"id": len(gt_anns) + 1, "image_id": n, "category_id": cats.setdefault(g.category, len(cats) + 1),
                            "segmentation": rle, "area": area, "iscrowd": int(g.iscrowd),
                            "bbox": mask_utils.toBbox(rle).tolist()})
        for j, p in enumerate(im.preds):
            if not np.isfinite(p.score):
                raise BadInputError(f"image {im.image_id} prediction {j}: score {p.score} is not finite")
            rle = _rle(p.mask, im.height, im.width, f"image {im.image_id} prediction {j}")
            dt_anns.append({"image_id": n, "category_id": cats.setdefault(p.category, len(cats) + 1),
                            "segmentation": rle, "score": float(p.score)})
    if not gt_anns:
        raise ValueError("AP needs at least one ground-truth instance")
    if not dt_anns:  # loadRes cannot take an empty list; nothing detected means zero precision
        return {k: 0.0 for k in AP_METRICS}
    most = max(Counter(a["image_id"] for a in dt_anns).values())
    gt = COCO()
    gt.dataset = {"images": imgs, "annotations": gt_anns,
                  "categories": [{"id": i, "name": str(c)} for c, i in cats.items()]}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        gt.createIndex()
        dt = gt.loadRes(dt_anns)
        ev = COCOeval(gt, dt, iouType="segm")
        ev.params.maxDets = [1, 10, max_dets or max(100, most)]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {k: (float("nan") if v < 0 else float(v)) for k, v in zip(AP_METRICS, ev.stats[:6])}
