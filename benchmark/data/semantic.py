"""The semantic-segmentation record, beside the instance one: a row holds the image and its label map
(one class index per pixel, ``IGNORE_INDEX`` where unlabelled), stored as a lossless single-channel PNG.
The class list (index -> name) is the source's and goes into the manifest and the dataset card.

Why a separate schema, not a field on the instance row: a semantic dataset has no objects to prompt and
the instance evaluator must not see one; the builder picks the schema from the sample type."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from datasets import Features, Image, Value

import corruptions
from corruptions import CLEAR, split_name

from .schema import encode_image
from ..errors import BadInputError

IGNORE_INDEX = 255

SEMANTIC_FEATURES = Features({
    "image": Image(),
    "label": Image(),  # single-channel 8-bit PNG: class index per pixel, 255 = ignore
    "image_id": Value("string"),
    "source": Value("string"),
    "condition": Value("string"),
    "severity": Value("int32"),
    "seed": Value("int64"),
    "width": Value("int32"),
    "height": Value("int32"),
})

#: Cityscapes' 19 evaluation classes by train id (cityscapesScripts ``helpers/labels.py``)
CITYSCAPES_CLASSES = ("road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
                      "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
                      "motorcycle", "bicycle")


@dataclass
class SemanticSample:
    """One image with its label map, as a semantic source yields it."""

    image_id: str
    image: np.ndarray  # (H, W, 3) uint8 RGB
    label: np.ndarray  # (H, W) uint8, values < len(classes) or IGNORE_INDEX
    source: str = ""
    condition: str = CLEAR
    severity: int = 0


def encode_label(label: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(label, dtype=np.uint8), [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a label map of shape {label.shape}")
    return buf.tobytes()


def decode_label(data: bytes, where: str, num_classes: int) -> np.ndarray:
    """A row's label bytes -> (H, W) uint8, every value checked: a class index or IGNORE_INDEX."""
    lab = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if lab is None or lab.ndim != 2 or lab.dtype != np.uint8:
        raise BadInputError(f"{where}: label bytes are not a single-channel 8-bit PNG")
    bad = np.unique(lab[(lab >= num_classes) & (lab != IGNORE_INDEX)])
    if bad.size:
        raise BadInputError(f"{where}: label values {bad[:5].tolist()} are neither a class index 0..{num_classes - 1} "
                         f"nor the ignore index {IGNORE_INDEX}")
    return lab


def map_ids(ids: np.ndarray, table: dict[int, int]) -> np.ndarray:
    """Dataset ids -> train ids through ``table``; every id not in it becomes IGNORE_INDEX."""
    lut = np.full(max(int(ids.max(initial=0)), max(table)) + 1, IGNORE_INDEX, dtype=np.uint8)
    for k, v in table.items():
        lut[k] = v
    return lut[ids]


def semantic_rows(sample: SemanticSample, profile: list[tuple[str, int]], cfg) -> list[tuple[str, dict]]:
    """(split name, row) for the sample and, if it is clear, every corruption of it (label maps moved
    with geometric corruptions, nearest-neighbour; see ``corruptions.labels``)."""
    ext = "jpg" if cfg.image_format == "jpeg" else "png"

    def row(image, label, condition, severity):
        h, w = image.shape[:2]
        return split_name(condition, severity), {
            "image": {"bytes": encode_image(image, cfg.image_format, cfg.jpeg_quality),
                      "path": f"{sample.image_id}.{ext}"},
            "label": {"bytes": encode_label(label), "path": f"{sample.image_id}_label.png"},
            "image_id": sample.image_id, "source": sample.source or cfg.source, "condition": condition,
            "severity": severity, "seed": cfg.seed, "width": w, "height": h,
        }

    out = [row(sample.image, sample.label, sample.condition, sample.severity)]
    if sample.condition != CLEAR:
        return out  # a real adverse-condition image is not corrupted further
    for key, severity in profile:
        image, label = corruptions.apply_corruption_labels(key, sample.image, sample.label, severity=severity,
                                                           seed=cfg.seed, image_id=sample.image_id)
        out.append(row(image, label, corruptions.get_corruption(key).name, severity))
    return out
