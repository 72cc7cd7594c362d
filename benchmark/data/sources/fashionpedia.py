"""Fashionpedia's sub-part subset, as robustseg reads SUM's words (an INTERPRETATION: SUM publishes no list).

SUM evaluates "the validation set of Fashionpedia containing 1,148 images (861 of which have subpart masks)".
Fashionpedia's ontology has 27 main apparel categories and 19 apparel parts (supercategories "garment
parts", "closures" and "decorations"). The rule here: the validation images with at least one annotation of
an apparel-part category, and only those part annotations as objects. How many images the rule selects is
recorded in the source's params (``selected_images`` of ``val_images``, in every build manifest), so a user
can compare it with SUM's 861; docs/sources.md says what is assumed."""
from __future__ import annotations

import os

import numpy as np

from ..schema import Sample
from .base import register_source
from .coco import CocoSource
from .coco_index import load_index
from ...errors import BadInputError

#: Fashionpedia's 19 apparel parts: garment parts (7), closures (2), decorations (10)
PART_CATEGORIES = ("hood", "collar", "lapel", "epaulette", "sleeve", "pocket", "neckline", "buckle", "zipper",
                   "applique", "bead", "bow", "flower", "fringe", "ribbon", "rivet", "ruffle", "sequin", "tassel")


@register_source("fashionpedia_subpart",
                 description="Fashionpedia validation images with apparel-part annotations, parts only as objects "
                             "(robustseg's reading of SUM's 861-image sub-part subset; the count it selects is "
                             "in params/manifest)",
                 layout="<root>/instances_attributes_val2020.json + images at <root>/test/<file_name>")
class FashionpediaSubpartSource(CocoSource):
    license = "CC-BY-4.0 (annotations; per SUM's appendix A.1); images under their own licences"
    citation = ("@inproceedings{jia2020fashionpedia, title={Fashionpedia: Ontology, Segmentation, and an Attribute "
                "Localization Dataset}, author={Jia, Menglin and Shi, Mengyun and Sirotenko, Mikhail and Cui, Yin "
                "and Cardie, Claire and Hariharan, Bharath and Adam, Hartwig and Belongie, Serge}, booktitle={ECCV}, "
                "year={2020}}")
    homepage = "https://github.com/cvdfoundation/fashionpedia"

    def __init__(self, root: str | os.PathLike, annotations: str = "instances_attributes_val2020.json",
                 images: str = "test"):
        super().__init__(root, annotations, images)
        ann = self.ann_files[0]
        names = load_index(ann, f"{self.name}: {ann}").cat_names  # parsed once, cached by content
        missing = [n for n in PART_CATEGORIES if n not in names]
        if missing:
            raise BadInputError(f"{self.name}: {ann} lacks Fashionpedia's apparel-part categories {missing}; is it "
                                "a Fashionpedia instances json?")
        part_ids = np.array([k for k, n in enumerate(names) if n in PART_CATEGORIES])
        every = len(self.items)
        self.items = [it for it in self.items if np.isin(it.anns.index.cat[it.anns.start:it.anns.end], part_ids).any()]
        self.options |= {"rule": "images with an apparel-part annotation; parts only",
                         "selected_images": len(self.items), "val_images": every}

    def __getitem__(self, index: int) -> Sample:
        sample = super().__getitem__(index)
        sample.objects = [o for o in sample.objects if o.category in PART_CATEGORIES]
        return sample
