"""ADE20K instance annotations of the Scene Parsing benchmark (``ADEChallengeData2016``): each image has an
RGB PNG under ``annotations_instance/<split>/`` whose channel 0 is the instance category id and channel 1
the instance id (0 = void), the encoding the instance challenge's conversion scripts read.

Each non-zero instance id is one object, its category the channel-0 id as text (ADE's instance category
ids, not the 150 scene-parsing classes). An instance whose pixels carry more than one category id is a
per-sample error: the encoding gives every instance one category."""
from __future__ import annotations

import os

import numpy as np

from ..schema import ObjectAnn, Sample
from .base import Source, register_source
from .common import check_same_size, image_files, require_dir, resolve_root
from .errors import BadSampleError
from .imageio import read_image, read_mask
from ...errors import UsageError

SPLITS = ("validation", "training")


@register_source("ade20k", description="ADE20K instance maps (ADEChallengeData2016): one object per instance id",
                 layout="<root>/images/<split>/<name>.jpg + <root>/annotations_instance/<split>/<name>.png "
                        "(R: category id, G: instance id; split: validation, training)")
class Ade20kSource(Source):
    license = "ADE20K terms: research and educational use; images under their own licences"
    citation = ("@inproceedings{zhou2017scene, title={Scene Parsing through ADE20K Dataset}, author={Zhou, Bolei and "
                "Zhao, Hang and Puig, Xavier and Fidler, Sanja and Barriuso, Adela and Torralba, Antonio}, "
                "booktitle={CVPR}, year={2017}}")
    homepage = "https://groups.csail.mit.edu/vision/datasets/ADE20K/"

    def __init__(self, root: str | os.PathLike, split: str = "validation"):
        self.root = resolve_root(root, self.name)
        if split not in SPLITS:
            raise UsageError(f"ade20k: split must be one of {', '.join(SPLITS)}, not {split!r}")
        self.split = split
        self.image_dir = require_dir(self.root / "images" / split, self.name, "image")
        self.ann_dir = require_dir(self.root / "annotations_instance" / split, self.name, "instance annotation")
        self.images = [p for p in image_files(self.image_dir) if p.suffix.lower() == ".jpg"]

    def __len__(self) -> int:
        return len(self.images)

    def params(self) -> dict:
        return {"root": str(self.root), "split": self.split}

    def __getitem__(self, index: int) -> Sample:
        img_path = self.images[index]
        ann_path = self.ann_dir / f"{img_path.stem}.png"
        image = read_image(img_path, root=self.root)
        ann = read_mask(ann_path, root=self.root)
        if ann.ndim != 3 or ann.shape[2] < 2 or ann.dtype != np.uint8:
            raise BadSampleError(ann_path, f"expected an 8-bit RGB instance map (R: category, G: instance), got "
                                           f"shape {ann.shape} of {ann.dtype}")
        check_same_size(ann, image, ann_path, img_path)
        cats, ids = ann[..., 0], ann[..., 1]
        objects = []
        for inst in np.unique(ids):
            if inst == 0:
                continue
            mask = ids == inst
            cat = np.unique(cats[mask])
            if len(cat) != 1:
                raise BadSampleError(ann_path, f"instance {int(inst)} has pixels of categories {cat[:5].tolist()}")
            objects.append(ObjectAnn(id=int(inst), mask=mask, category=str(int(cat[0]))))
        return Sample(image_id=img_path.stem, image=image, objects=objects, source=self.name)
