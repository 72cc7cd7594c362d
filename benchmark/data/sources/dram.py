"""DRAM (art paintings) test set as published in ``DRAM_processed``: paintings in one folder per artist
under ``test/``, PASCAL VOC label maps with the same relative path under ``labels/`` (``.png``).

Each VOC class present in a painting is one object (0 background and 255 void are not objects): DRAM
is annotated semantically, and how SAM and SUM cut its maps into objects is not stated (docs/sources.md)."""
from __future__ import annotations

import os

import numpy as np

from ..schema import Sample
from .base import Source, register_source
from .common import check_same_size, objects_from_ids, require_dir, resolve_root
from .errors import BadSampleError
from .imageio import read_image, read_mask
from ...errors import UsageError

VOC_CLASSES = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
               "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
               "tvmonitor")


@register_source("dram", description="DRAM paintings: VOC label maps, one object per class present (test split)",
                 layout="<root>/test/<artist>/<name>.jpg + <root>/labels/<artist>/<name>.png (root: DRAM_processed)")
class DramSource(Source):
    license = "research use (DRAM project page); paintings under their own terms"
    citation = ("@article{cohen2022dram, title={Semantic Segmentation in Art Paintings}, author={Cohen, Nadav and "
                "Newman, Yael and Shamir, Ariel}, journal={Computer Graphics Forum}, volume={41}, number={2}, "
                "year={2022}}")
    homepage = "https://faculty.runi.ac.il/arik/site/artseg/Dram-Dataset.html"

    def __init__(self, root: str | os.PathLike, split: str = "test"):
        self.root = resolve_root(root, self.name)
        if split not in ("test",):
            raise UsageError(f"dram: split must be test (the only split with labels), not {split!r}")
        images = require_dir(self.root / split, self.name, "painting")
        self.labels = require_dir(self.root / "labels", self.name, "label")
        self.split = split
        self.items = sorted(p.relative_to(images) for p in images.glob("*/*")
                            if p.suffix.lower() in (".jpg", ".jpeg") and not p.is_dir())
        self.images = images

    def __len__(self) -> int:
        return len(self.items)

    def params(self) -> dict:
        return {"root": str(self.root), "split": self.split}

    def __getitem__(self, index: int) -> Sample:
        rel = self.items[index]
        img_path, mask_path = self.images / rel, self.labels / rel.with_suffix(".png")
        image = read_image(img_path, root=self.root)
        labels = read_mask(mask_path, root=self.root)
        if labels.ndim != 2:
            raise BadSampleError(mask_path, f"expected a single-channel VOC label map, got shape {labels.shape}")
        check_same_size(labels, image, mask_path, img_path)
        bad = sorted(set(np.unique(labels).tolist()) - set(range(len(VOC_CLASSES))) - {255})
        if bad:
            raise BadSampleError(mask_path, f"label values {bad[:5]} are not VOC class ids 0-20 or 255 (void)")
        objects = objects_from_ids(labels, dict(enumerate(VOC_CLASSES)), ignore=(0, 255))
        return Sample(image_id=f"{rel.parent.name}_{rel.stem}", image=image, objects=objects, source=self.name)
