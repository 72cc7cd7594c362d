"""STREETS vehicle segmentation (traffic-camera frames), read as a COCO instances json.

The Illinois Data Bank readme that defines this subset's files was not reachable when this was
written; SAM's evaluation (the source of Robust-Seg's STREETS test images) uses it as COCO-style
instance masks. The reader is the COCO reader with STREETS' names as defaults; point
``annotations`` / ``images`` at your copy if its names differ."""
from __future__ import annotations

import os

from .base import register_source
from .coco import CocoSource


@register_source("streets", description="STREETS traffic-camera vehicle masks (COCO instances json)",
                 layout="<root>/<annotations> (default annotations/instances.json) + <root>/<images>/<file_name> "
                        "(default images/)")
class StreetsSource(CocoSource):
    license = "CC-BY-4.0 (Illinois Data Bank, STREETS)"
    citation = ("@inproceedings{snyder2019streets, title={STREETS: A Novel Camera Network Dataset for Traffic Flow}, "
                "author={Snyder, Corey and Do, Minh N.}, booktitle={NeurIPS}, year={2019}}")
    homepage = "https://databank.illinois.edu/datasets/IDB-3671567"

    def __init__(self, root: str | os.PathLike, annotations: str = "annotations/instances.json", images: str = "images"):
        super().__init__(root, annotations=annotations, images=images)
