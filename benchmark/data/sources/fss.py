"""FSS-1000: 1000 classes x 10 images, each ``<n>.jpg`` with its mask ``<n>.png`` in the class folder.

Masks are read with any channel > 0 as foreground: the published masks are 0/255, the authors'
example masks are {0, 1} RGB with some pixels set in only one channel. The authors' example
layout (``support/image/<n>.jpg`` + ``support/label/<n>.png``) is read too when ``root`` holds
``image/`` and ``label/``."""
from __future__ import annotations

import os

from ..schema import Sample
from .base import Source, register_source
from .common import check_same_size, resolve_root
from .folders import mask_objects
from .imageio import read_image, read_mask


@register_source("fss1000", description="FSS-1000 few-shot segmentation classes (one object per image, category = "
                                        "class folder)",
                 layout="<root>/<class>/<n>.jpg + <root>/<class>/<n>.png (published), or "
                        "<root>/image/<n>.jpg + <root>/label/<n>.png (authors' example)")
class Fss1000Source(Source):
    license = "see the FSS-1000 terms (research use)"
    citation = ("@inproceedings{li2020fss, title={FSS-1000: A 1000-Class Dataset for Few-Shot Segmentation}, "
                "author={Li, Xiang and Wei, Tianhan and Chen, Yau Pun and Tai, Yu-Wing and Tang, Chi-Keung}, "
                "booktitle={CVPR}, year={2020}}")
    homepage = "https://github.com/HKUSTCV/FSS-1000"

    def __init__(self, root: str | os.PathLike):
        self.root = resolve_root(root, self.name)
        self.example = (self.root / "image").is_dir() and (self.root / "label").is_dir()
        if self.example:
            self.pairs = [(self.root.name, p, self.root / "label" / f"{p.stem}.png")
                          for p in sorted((self.root / "image").glob("*.jpg"), key=lambda p: (len(p.stem), p.stem))]
        else:
            self.pairs = [(d.name, p, p.with_suffix(".png"))
                          for d in sorted(x for x in self.root.iterdir() if x.is_dir())
                          for p in sorted(d.glob("*.jpg"), key=lambda p: (len(p.stem), p.stem))]

    def __len__(self) -> int:
        return len(self.pairs)

    def params(self) -> dict:
        return {"root": str(self.root), "layout": "example" if self.example else "classes"}

    def __getitem__(self, index: int) -> Sample:
        cls, img_path, mask_path = self.pairs[index]
        image = read_image(img_path, root=self.root)
        mask = read_mask(mask_path, root=self.root)
        check_same_size(mask, image, mask_path, img_path)
        category = "object" if self.example else cls
        return Sample(image_id=f"{cls}_{img_path.stem}", image=image, source=self.name,
                      objects=mask_objects(mask, "nonzero", mask_path, category))
