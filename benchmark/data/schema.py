"""The dataset record schema, defined once: features, RLE masks and the image codec. Builders write
it, the evaluator, the trainer and users read it."""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from datasets import Features, Image, List, Value
from pycocotools import mask as mask_utils

from ..errors import IntegrityError

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


def rle_counts(counts: str | bytes) -> list[int]:
    """The run lengths of a COCO compressed RLE string (pycocotools' LEB128-like code: 5 bits per
    character plus 48, 0x20 = more follows, 0x10 on the last = negative; runs after the second are
    stored as the difference to the run two before)."""
    raw = counts.encode("ascii") if isinstance(counts, str) else bytes(counts)
    out: list[int] = []
    i = 0
    while i < len(raw):
        x, k, more = 0, 0, True
        while more:
            if i >= len(raw):
                raise IntegrityError("compressed RLE string ends inside a number")
            c = raw[i] - 48
            if not 0 <= c < 64:
                raise IntegrityError(f"character {chr(raw[i])!r} is not valid in a compressed RLE string")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            i += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        out.append(x + out[-2] if len(out) > 2 else x)
    return out


def check_rle(size, counts, where: str) -> None:
    """Raise IntegrityError unless ``counts`` is a well-formed compressed RLE whose non-negative runs
    cover exactly the ``size`` = [h, w] pixels. Stored masks are checked on read: pycocotools fills a
    short RLE with uninitialised memory and does not check the characters."""
    if not (isinstance(size, (list, tuple)) and len(size) == 2
            and all(isinstance(v, (int, np.integer)) and 0 <= v <= 1 << 20 for v in size)):
        raise IntegrityError(f"{where}: RLE size must be [height, width] of non-negative integers, got {size!r:.80}")
    try:
        runs = rle_counts(counts)
    except (ValueError, UnicodeEncodeError, TypeError) as e:
        raise IntegrityError(f"{where}: corrupt compressed RLE ({e})") from None
    if any(r < 0 for r in runs) or sum(runs) != int(size[0]) * int(size[1]):
        raise IntegrityError(f"{where}: RLE runs cover {sum(runs)} pixels (min run {min(runs, default=0)}), not "
                             f"{size[0]}x{size[1]}")


def decode_rle(rle: dict, where: str = "stored mask") -> np.ndarray:
    """COCO compressed RLE dict (counts as str or bytes) -> (H, W) bool, checked first (``check_rle``)."""
    counts = rle["counts"]
    check_rle(rle["size"], counts, where)
    r = {"size": list(rle["size"]), "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
    return mask_utils.decode(r).astype(bool)


def _is_int(v, lo: int = 0, hi: int = 1 << 62) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def check_row(r: dict, where: str) -> None:
    """Every stored field of one dataset row has its type and range (the parquet schema allows nulls
    and any value): the evaluator and trainer read rows only after this. Masks are checked when
    decoded (``decode_rle``)."""
    bad = [k for k in ("image_id", "source", "condition") if not (isinstance(r.get(k), str) and r[k])]
    bad += [k for k in ("width", "height") if not _is_int(r.get(k), 1, 1 << 16)]
    bad += [k for k in ("severity", "seed") if not _is_int(r.get(k))]
    if not (isinstance(r.get("image"), dict) and isinstance(r["image"].get("bytes"), bytes)):
        bad.append("image")
    if not isinstance(r.get("objects"), list):
        bad.append("objects")
    if bad:
        raise IntegrityError(f"{where}: invalid or missing stored field(s) {bad}")
    for o in r["objects"]:
        m = o.get("mask") if isinstance(o, dict) else None
        ok = (_is_int(o.get("id"), -(1 << 62)) and _is_int(o.get("area")) and isinstance(o.get("category"), str)
              and isinstance(o.get("iscrowd"), bool) and isinstance(m, dict) and isinstance(m.get("counts"), str)
              and m.get("size") == [r["height"], r["width"]]) if isinstance(o, dict) else False
        if not ok:
            raise IntegrityError(f"{where}: object {o.get('id') if isinstance(o, dict) else o!r} has an invalid or "
                                 f"missing field (id, area, category, iscrowd, or a mask whose size is not "
                                 f"[{r['height']}, {r['width']}])")


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
        raise IntegrityError(f"{where}: image bytes do not decode")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
