"""iShape irregular-shape instances: six synthetic sub-datasets (antenna, branch, fence, hanger, log, wire),
each with a COCO json of RLE masks per split. The chosen sub-datasets are pooled into one source; an
image's id is ``<subset>_<json image id>`` since every sub-dataset numbers its images from the start."""
from __future__ import annotations

import os
from dataclasses import replace

from .base import register_source
from .coco import _CocoLike, file_in, index_coco_json
from .common import require_dir, require_file, resolve_root
from ...errors import UsageError

SUBSETS = ("antenna", "branch", "fence", "hanger", "log", "wire")
ANNOTATIONS = "coco_format-mask_encoding=rle-instances_2017.json"


@register_source("ishape", description="iShape irregular shapes (COCO json, RLE masks); the chosen sub-datasets "
                                       "pooled, ids <subset>_<image id>",
                 layout=f"<root>/<subset>/<split>/{ANNOTATIONS} + <root>/<subset>/<split>/image/<file_name> "
                        f"(subset: {', '.join(SUBSETS)}; split: val, train)")
class IshapeSource(_CocoLike):
    license = "CC0 1.0 (public domain; iShape dataset README)"
    citation = ("@article{yang2021ishape, title={iShape: A First Step Towards Irregular Shape Instance Segmentation}, "
                "author={Yang, Lei and Wei, Yan Zi and He, Yisheng and Sun, Wei and Huang, Zhenhang and Huang, Haibin "
                "and Fan, Haoqiang}, journal={arXiv:2109.15068}, year={2021}}")
    homepage = "https://ishape.github.io/"

    def __init__(self, root: str | os.PathLike, subsets: str = ",".join(SUBSETS), split: str = "val"):
        self.root = resolve_root(root, self.name)
        chosen = [s.strip() for s in subsets.split(",") if s.strip()]
        if not chosen or any(s not in SUBSETS for s in chosen):
            raise UsageError(f"ishape: subsets must be a comma list of {', '.join(SUBSETS)}, not {subsets!r}")
        if split not in ("val", "train"):
            raise UsageError(f"ishape: split must be val or train, not {split!r}")
        self.options = {"subsets": ",".join(chosen), "split": split}
        self.ann_files, self.items = [], []
        for subset in chosen:
            folder = self.root / subset / split
            ann = require_file(folder / ANNOTATIONS, self.name, "annotation file")
            img_dir = require_dir(folder / "image", self.name, "image")
            self.ann_files.append(ann)
            self.items += [replace(it, image_id=f"{subset}_{it.image_id}") for it in
                           index_coco_json(ann, lambda r, d=img_dir: file_in(d, r.get("file_name")), self.name)]

    def params(self) -> dict:
        return super().params() | self.options
