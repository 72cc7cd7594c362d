"""BBBC038v1 (Kaggle 2018 Data Science Bowl) nuclei: one folder per image, holding ``images/<id>.png``
and ``masks/<mask id>.png``, one binary PNG per nucleus (the competition's data description says
masks never overlap; overlaps are kept as they are).

Every sub-folder of the root is one image; files directly in the root (the competition's csv files sit
beside, not inside, ``stage1_train``) are not samples. A folder without ``images/<id>.png`` or
``masks/`` is a per-sample error naming it."""
from __future__ import annotations

import os

from ..schema import ObjectAnn, Sample
from .base import Source, register_source
from .common import check_same_size, image_files, nonempty, resolve_root
from .errors import BadSampleError
from .folders import mask_objects
from .imageio import read_image, read_mask


@register_source("bbbc038", description="BBBC038v1 / DSB2018 nuclei: one folder per image, one mask PNG per nucleus "
                                        "(root: stage1_train, or stage1_test / stage2_test with their released masks)",
                 layout="<root>/<id>/images/<id>.png + <root>/<id>/masks/<mask id>.png")
class Bbbc038Source(Source):
    license = "CC0 1.0 (Broad Bioimage Benchmark Collection, BBBC038v1)"
    citation = ("@article{caicedo2019nucleus, title={Nucleus segmentation across imaging experiments: the 2018 Data "
                "Science Bowl}, author={Caicedo, Juan C. and Goodman, Allen and Karhohs, Kyle W. and others}, "
                "journal={Nature Methods}, volume={16}, pages={1247--1253}, year={2019}}")
    homepage = "https://bbbc.broadinstitute.org/BBBC038"

    def __init__(self, root: str | os.PathLike):
        self.root = resolve_root(root, self.name)
        self.folders = sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def __len__(self) -> int:
        return len(self.folders)

    def params(self) -> dict:
        return {"root": str(self.root)}

    def __getitem__(self, index: int) -> Sample:
        folder = self.folders[index]
        img_path, mask_dir = folder / "images" / f"{folder.name}.png", folder / "masks"
        if not mask_dir.is_dir():
            raise BadSampleError(folder, "has no masks/ folder (one PNG per nucleus expected)")
        image = read_image(img_path, root=self.root)
        objects = []
        for k, mask_path in enumerate(image_files(mask_dir)):
            mask = read_mask(mask_path, root=self.root)
            check_same_size(mask, image, mask_path, img_path)
            nucleus = mask_objects(mask, "binary", mask_path, "nucleus")
            objects += [ObjectAnn(id=k + 1, mask=o.mask, category="nucleus") for o in nucleus]
        return Sample(image_id=folder.name, image=image, objects=nonempty(objects), source=self.name)
