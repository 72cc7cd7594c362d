"""Multi-Human Parsing v2 (LV-MHP-v2), as its official evaluation code reads it
(ZhaoJ9014/Multi-Human-Parsing, Evaluation/Multi-Human-Parsing/v2/mhp_data.py):
``<root>/list/<split>.txt`` names the images (one id a line), ``<root>/<split>/images/<id>.jpg`` is the
image and ``<root>/<split>/annotations/<id>_<NN>_<KK>.png`` one part label map per person (NN persons in
the image, KK this person's index; the official code keeps channel 0 of 3-channel files).

Objects: SUM's "bodypart" set partitions each person into body parts and clothes items "while
differentiating different identities", so every (person, part label) pair is one object, with id
``100 * person + label`` and category ``part_<label>`` (the label's name is not needed for prompting)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..schema import ObjectAnn, Sample
from .base import Source, register_source
from .common import check_same_size, files_digest, nonempty, require_dir, require_file, resolve_root
from .errors import BadSampleError
from .imageio import read_image, read_mask
from ...errors import BadInputError, UsageError

_ANN = re.compile(r"^(.+)_(\d{2})_(\d{2})\.png$")
_ID = re.compile(r"^[A-Za-z0-9_\-]+$")


@register_source("mhp", description="Multi-Human Parsing v2: per-person part label maps; each (person, part) is "
                                    "one object [layout from the official mhp_data.py]",
                 layout="<root>/list/<split>.txt + <root>/<split>/images/<id>.jpg + "
                        "<root>/<split>/annotations/<id>_<NN>_<KK>.png (split: val by default)")
class MhpSource(Source):
    license = "non-commercial use; terms at https://lv-mhp.github.io/ (per SUM's appendix A.1)"
    citation = ("@article{zhao2018understanding, title={Understanding Humans in Crowded Scenes: Deep Nested "
                "Adversarial Learning and A New Benchmark for Multi-Human Parsing}, author={Zhao, Jian and Li, "
                "Jianshu and Cheng, Yu and Zhou, Li and Sim, Terence and Yan, Shuicheng and Feng, Jiashi}, "
                "journal={ACM MM}, year={2018}}")
    homepage = "https://github.com/ZhaoJ9014/Multi-Human-Parsing"

    def __init__(self, root: str | os.PathLike, split: str = "val", first: int = 0):
        if split not in ("train", "val", "test"):
            raise UsageError(f"{self.name}: split must be train, val or test, not {split!r}")
        if not isinstance(first, int) or isinstance(first, bool) or first < 0:
            raise UsageError(f"{self.name}: first must be a whole number >= 0 (0 = every image), not {first!r}")
        self.root = resolve_root(root, self.name)
        self.list_file = require_file(self.root / "list" / f"{split}.txt", self.name, "list file")
        self.image_dir = require_dir(self.root / split / "images", self.name, "image")
        ann_dir = require_dir(self.root / split / "annotations", self.name, "annotation")
        ids = [line.strip() for line in self.list_file.read_text().splitlines() if line.strip()]
        bad = [i for i in ids if not _ID.match(i)]
        if bad:
            raise BadInputError(f"{self.list_file}: image id {bad[0]!r} is not a plain file stem")
        self.ids = ids[:first] if first else ids  # SUM: "the first 1,000 images" (list order)
        self.anns: dict[str, list[Path]] = {i: [] for i in self.ids}
        for p in sorted(ann_dir.iterdir()):
            m = _ANN.match(p.name)
            if m and m.group(1) in self.anns:
                self.anns[m.group(1)].append(p)
        self.split, self.first = split, first

    def __len__(self) -> int:
        return len(self.ids)

    def params(self) -> dict:
        return {"root": str(self.root), "split": self.split, "first": self.first,
                "lists": files_digest([self.list_file], self.root)}

    def __getitem__(self, index: int) -> Sample:
        image_id = self.ids[index]
        img_path = self.image_dir / f"{image_id}.jpg"
        image = read_image(img_path)
        if not self.anns[image_id]:
            raise BadSampleError(img_path, "no <id>_<NN>_<KK>.png annotation file for this image")
        objects = []
        for person, path in enumerate(self.anns[image_id], 1):
            labels = read_mask(path)
            labels = labels[..., 0] if labels.ndim == 3 else labels
            check_same_size(labels, image, path, img_path)
            if labels.max() > 99:  # MHP v2 has 58 part labels; ids are 100 * person + label
                raise BadSampleError(path, f"label {int(labels.max())} is above MHP v2's 58 part labels")
            objects += [ObjectAnn(id=100 * person + int(v), mask=labels == v, category=f"part_{int(v)}")
                        for v in np.unique(labels) if v > 0]
        return Sample(image_id=image_id, image=image, objects=nonempty(objects), source=self.name)
