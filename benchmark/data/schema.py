"""The dataset record schema, defined once: features, RLE masks and the image codec. Builders write
it, the evaluator, the trainer and users read it."""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from datasets import Features, Image, List, Value
from pycocotools import mask as mask_utils
from ..errors import BadInputError

SCHEMA_VERSION = 1

OBJECT_FEATURES = {
    "id": Value("int64"),
    "mask": {"size": List(Value("int32"), length=2), "counts": Value("string")},  # COCO compressed RLE, [h, w]
    "bbox": List(Value("float32"), length=4),  # COCO [x, y, w, h] of the mask
    "area": Value("int64"),  # mask pixel count
    "category": Value("string"),
    "iscrowd": Value("bool"),
}

FEATURES = Features({
    "image": Image(),  # encoded bytes embedded in the parquet
    "image_id": Value("string"),
    "source": Value("string"),
    "condition": Value("string"),  # "clear", a degradation name, or a real condition ("night", ...)
    "severity": Value("int32"),  # 0 where it does not apply
    "seed": Value("int64"),
    "width": Value("int32"),
    "height": Value("int32"),
    "objects": List(OBJECT_FEATURES),
})


@dataclass
class ObjectAnn:
    """One instance: a full-resolution boolean mask plus its annotation fields."""

    id: int
    mask: np.ndarray  # (H, W) bool
    category: str = "object"
    iscrowd: bool = False


@dataclass
class Sample:
    """One clear image with its instance masks, as a reader yields it."""

    image_id: str
    image: np.ndarray  # (H, W, 3) uint8 RGB
    objects: list[ObjectAnn] = field(default_factory=list)
    source: str = ""
    condition: str = "clear"  # real-degradation sources set their condition here
    severity: int = 0

    @property
    def masks(self) -> np.ndarray:
        h, w = self.image.shape[:2]
        if not self.objects:
            return np.zeros((0, h, w), dtype=bool)
        return np.stack([o.mask for o in self.objects])


def encode_rle(mask: np.ndarray) -> dict:
    """(H, W) bool -> {'size': [h, w], 'counts': str} (COCO compressed RLE)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


def decode_rle(rle: dict) -> np.ndarray:
    """COCO compressed RLE dict (counts as str or bytes) -> (H, W) bool."""
    counts = rle["counts"]
    r = {"size": list(rle["size"]), "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
    return mask_utils.decode(r).astype(bool)


def mask_bbox(mask: np.ndarray) -> list[float]:
    """Tight COCO [x, y, w, h] box of a mask; zeros for an empty mask."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return [0.0, 0.0, 0.0, 0.0]
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]


def object_record(obj: ObjectAnn) -> dict:
    return {
        "id": int(obj.id),
        "mask": encode_rle(obj.mask),
        "bbox": mask_bbox(obj.mask),
        "area": int(obj.mask.sum()),
        "category": str(obj.category),
        "iscrowd": bool(obj.iscrowd),
    }


def encode_image(image: np.ndarray, fmt: str, jpeg_quality: int) -> bytes:
    """(H, W, 3) uint8 RGB -> JPEG or PNG bytes, as the builder stores them in a row's ``image``."""
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if fmt == "jpeg":
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    else:
        ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise RuntimeError(f"OpenCV could not encode an image of shape {image.shape} as {fmt}")
    return buf.tobytes()


def decode_image(data: bytes, where: str) -> np.ndarray:
    """A row's stored image bytes -> (H, W, 3) uint8 RGB; ``where`` names the row in the error."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise BadInputError(f"{where}: image bytes do not decode")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
