"""The training batches of ``robustseg train ecocseg``: DAFormer's data pipeline, which ECOCSeg's UDA config
(Woof6/ECOCSeg ``configs/_base_/datasets/uda_gta_to_cityscapes_512x512.py`` and
``configs/daformer/gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0_ecocseg.py``) inherits.

Per sample: resize keeping the aspect ratio to fit the dataset's scale (mmcv ``imrescale``: factor
min(long/longer side, short/shorter side), size ``int(side * factor + 0.5)``, image bilinear, labels
nearest), a random crop (on the source up to 10 draws until no class covers 75% or more of the crop's
labelled pixels: mmseg ``RandomCrop(cat_max_ratio=0.75)``), a horizontal flip with probability 0.5,
normalisation, then padding to the crop size (image 0 after normalisation, label 255: mmseg ``Pad``).
Source images are drawn by rare-class sampling (``RareClassSampler``), target images uniformly.

Every draw comes from the step's numpy generator, so a resumed run draws the same batches."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
import torch

from baselines.segformer.configs import PIXEL_MEAN, PIXEL_STD
from baselines.segformer.slide import rescale_size

from ..data.schema import decode_image
from ..data.semantic import IGNORE_INDEX, SEMANTIC_FEATURES, decode_label
from ..errors import BadInputError, UsageError
from ..jobs import load_manifest, read_verified_parquet

#: training scale (long side, short side) per source, from DAFormer's UDA dataset configs, which ECOCSeg
#: uses: GTA5 (1280, 720) and Cityscapes (1024, 512) in ``uda_gta_to_cityscapes_512x512.py``; SYNTHIA
#: (1280, 760) and ACDC (960, 540) in DAFormer's ``uda_synthia_to_cityscapes`` / ``uda_cityscapes_to_acdc``
#: configs. A source not listed is not resized.
TRAIN_SCALES: dict[str, tuple[int, int]] = {
    "gta5": (1280, 720), "synthia": (1280, 760), "cityscapes-semantic": (1024, 512), "acdc-semantic": (960, 540)}


@dataclass(frozen=True)
class Row:
    image: bytes
    label: Optional[bytes]  # None: an unlabelled target row
    where: str  # "<shard> <image_id>", for messages


def read_rows(dataset_dir: Path, labelled: bool) -> tuple[list[Row], list[str], str]:
    """The rows of a semantic build, its class list and its source name."""
    manifest = load_manifest(dataset_dir)
    classes = manifest.get("classes")
    if manifest.get("task") != "semantic" or not isinstance(classes, list):
        raise BadInputError(f"{dataset_dir}: not a semantic dataset (build it with a semantic source)")
    rows = []
    for rel in sorted(manifest["files"]):
        # inside the folder, a regular file, its sha256 (of the bytes parsed), schema and row count
        table = read_verified_parquet(dataset_dir, rel, manifest["files"][rel], SEMANTIC_FEATURES.arrow_schema,
                                      str(dataset_dir / "manifest.json"))
        path = dataset_dir / rel
        for r in table.select(["image", "label", "image_id"]).to_pylist():
            rows.append(Row(r["image"]["bytes"], r["label"]["bytes"] if labelled else None, f"{path} {r['image_id']}"))
    if not rows:
        raise BadInputError(f"{dataset_dir}: no rows")
    source = manifest.get("build", {}).get("source", "") if isinstance(manifest.get("build"), dict) else ""
    return rows, classes, str(source)


def rescale(image: np.ndarray, label: np.ndarray, scale: Optional[tuple[int, int]]):
    if scale is None:
        return image, label
    w, h = rescale_size(image.shape[1], image.shape[0], scale)
    return (cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR),
            cv2.resize(label, (w, h), interpolation=cv2.INTER_NEAREST))


def crop_box(h: int, w: int, size: int, rng: np.random.Generator) -> tuple[int, int]:
    """mmseg ``RandomCrop.get_crop_bbox``: a top-left corner, offsets in [0, margin]."""
    return int(rng.integers(0, max(h - size, 0) + 1)), int(rng.integers(0, max(w - size, 0) + 1))


def random_crop(image: np.ndarray, label: np.ndarray, size: int, rng: np.random.Generator,
                cat_max_ratio: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A crop of at most size x size; with ``cat_max_ratio`` < 1, redrawn (at most 10 times) while it holds
    fewer than two classes or one class covers ``cat_max_ratio`` of its labelled pixels."""
    y, x = crop_box(*label.shape, size, rng)
    if cat_max_ratio < 1.0:
        for _ in range(10):
            values, counts = np.unique(label[y:y + size, x:x + size], return_counts=True)
            counts = counts[values != IGNORE_INDEX]
            if len(counts) > 1 and counts.max() / counts.sum() < cat_max_ratio:
                break
            y, x = crop_box(*label.shape, size, rng)
    return image[y:y + size, x:x + size], label[y:y + size, x:x + size]


def class_pixels(rows: list[Row], num_classes: int) -> np.ndarray:
    """(images, classes) pixel counts of the stored labels (ignore excluded): DAFormer's
    ``sample_class_stats``, computed here from the build instead of a json beside the data."""
    counts = np.zeros((len(rows), num_classes), np.int64)
    for i, r in enumerate(rows):
        lab = decode_label(r.label, r.where, num_classes)
        counts[i] = np.bincount(lab[lab != IGNORE_INDEX].ravel(), minlength=num_classes)[:num_classes]
    return counts


class RareClassSampler:
    """DAFormer's rare-class sampling (``uda_dataset.py``, ``get_rcs_class_probs``): a class c is drawn
    with probability softmax((1 - f_c) / T) over the classes present, f_c its share of the source's
    labelled pixels, then an image among those with more than ``min_pixels`` of c; the crop is redrawn (up
    to 10 times) until it holds more than ``min_pixels * min_crop_ratio`` pixels of c. Classes no image
    holds enough of are left out (DAFormer asserts that none is); if none is left the sampler refuses."""

    def __init__(self, counts: np.ndarray, temperature: float, min_pixels: int, min_crop_ratio: float):
        totals = counts.sum(0).astype(np.float64)
        present = np.flatnonzero(totals > 0)
        images = {int(c): np.flatnonzero(counts[:, c] > min_pixels) for c in present}
        keep = [c for c in present if len(images[int(c)])]
        if not keep:
            raise UsageError(f"rare-class sampling: no source image holds more than rcs_min_pixels={min_pixels} "
                             "pixels of any class; pass --recipe-option rcs_min_pixels=N (smaller) or "
                             "rcs_temperature=0 (uniform sampling)")
        order = sorted(present, key=lambda c: totals[c])  # DAFormer sorts the classes by pixel count
        freq = 1 - totals[order] / totals.sum()
        prob = np.exp((freq - freq.max()) / temperature)
        prob = {int(c): p for c, p in zip(order, prob / prob.sum())}
        self.classes = np.array([int(c) for c in order if c in keep])
        p = np.array([prob[int(c)] for c in self.classes])
        self.prob = p / p.sum()
        self.images = {int(c): images[int(c)] for c in self.classes}
        self.min_crop = min_pixels * min_crop_ratio

    def draw(self, rng: np.random.Generator) -> tuple[int, int]:
        """(class, image index)."""
        c = int(rng.choice(self.classes, p=self.prob))
        return c, int(rng.choice(self.images[c]))


@dataclass(frozen=True)
class Pipeline:
    """How one domain's samples are drawn and prepared."""

    rows: list
    num_classes: int
    crop: int
    scale: Optional[tuple[int, int]]
    flip: float
    cat_max_ratio: float = 1.0
    sampler: Optional[RareClassSampler] = None

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One (image, label) pair of crop size at most; a target row's label is all ignore."""
        if self.sampler is None:
            c, i = None, int(rng.integers(0, len(self.rows)))
        else:
            c, i = self.sampler.draw(rng)
        r = self.rows[i]
        img = decode_image(r.image, r.where)
        lab = decode_label(r.label, r.where, self.num_classes) if r.label is not None else \
            np.full(img.shape[:2], IGNORE_INDEX, np.uint8)
        img, lab = rescale(img, lab, self.scale)
        img_c, lab_c = random_crop(img, lab, self.crop, rng, self.cat_max_ratio)
        if c is not None and self.sampler.min_crop > 0:
            for _ in range(10):
                if int((lab_c == c).sum()) > self.sampler.min_crop:
                    break
                img_c, lab_c = random_crop(img, lab, self.crop, rng, self.cat_max_ratio)
        if rng.random() < self.flip:
            img_c, lab_c = img_c[:, ::-1], lab_c[:, ::-1]
        return img_c, lab_c

    def batch(self, n: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(n, 3, crop, crop) normalised images padded with 0, (n, crop, crop) labels padded with 255."""
        x = torch.zeros((n, 3, self.crop, self.crop))
        y = torch.full((n, self.crop, self.crop), IGNORE_INDEX, dtype=torch.long)
        mean, std = torch.tensor(PIXEL_MEAN).view(3, 1, 1), torch.tensor(PIXEL_STD).view(3, 1, 1)
        for k in range(n):
            img, lab = self.sample(rng)
            h, w = lab.shape
            x[k, :, :h, :w] = (torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float() - mean) / std
            y[k, :h, :w] = torch.from_numpy(np.ascontiguousarray(lab)).long()
        return x, y
