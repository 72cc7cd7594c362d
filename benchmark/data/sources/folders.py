"""Image + mask folder readers (salient-object and thin-object sets): one mask file per image.

Mask interpretation (``mask_mode``):
- ``binary``: one object; a pixel is foreground when its value (max over colour channels) is
  above half the mask's range (1 for 0/1 masks, 255 for 8-bit, 65535 for 16-bit), the usual
  binarisation of 0/255 masks with anti-aliased edges;
- ``nonzero``: one object of every pixel with any channel > 0 (FSS-style masks);
- ``labels``: one object per distinct non-zero value (packed RGB for colour masks)."""
from __future__ import annotations

import os
from pathlib import Path
import numpy as np

from ..schema import ObjectAnn, Sample
from .base import Source, register_source
from .common import IMAGE_EXTS, check_same_size, files_digest, image_files, nonempty, objects_from_ids, \
    require_dir, require_file, resolve_root
from .errors import BadSampleError
from .imageio import read_image, read_mask
from ...errors import UsageError

MASK_MODES = ("binary", "nonzero", "labels")


def mask_objects(mask: np.ndarray, mode: str, path: Path, category: str = "object") -> list[ObjectAnn]:
    """Objects of one mask file under ``mode`` (see module doc); empty objects are dropped."""
    if mode not in MASK_MODES:
        raise UsageError(f"mask_mode must be one of {', '.join(MASK_MODES)}, not {mode!r}")
    if mask.ndim == 3:
        colour = mask[..., :3] if mask.shape[2] >= 3 else mask[..., :1]
    else:
        colour = mask[..., None]
    if mode == "labels":
        c = colour.astype(np.int64)
        packed = c[..., 0] if c.shape[2] == 1 else (c[..., 0] << 16) | (c[..., 1] << 8) | c[..., 2]
        return objects_from_ids(packed, default_category=category)
    if mode == "nonzero":
        fg = (colour > 0).any(axis=2)
    elif colour.shape[2] > 1 and not (colour == colour[..., :1]).all():
        y, x = np.argwhere((colour != colour[..., :1]).any(axis=2))[0]
        raise BadSampleError(path, f"colour mask (pixel {tuple(int(c) for c in colour[y, x])} at x={x}, y={y}) in "
                                   "binary mode, which expects grey values; use mask_mode=labels for colour-coded "
                                   "instances or mask_mode=nonzero")
    else:
        top = colour.max()
        if colour.dtype == np.bool_:
            fg = colour.any(axis=2)
        else:
            full = 1 if top <= 1 else (65535 if colour.dtype == np.uint16 and top > 255 else 255)
            if top > 65535 or colour.min() < 0:
                raise BadSampleError(path, f"binary mask values must lie in 0..65535, got {colour.min()}..{top}")
            fg = (colour.max(axis=2).astype(np.int64) * 2 > full)
    return nonempty([ObjectAnn(id=1, mask=fg, category=category)])


class ImageMaskFolders(Source):
    """Images in one folder, masks with the same stem in another (or the same) folder."""

    license = "see the dataset's own terms"
    citation = ""
    homepage = ""
    DEFAULTS: dict = {"images": "images", "masks": "masks", "mask_suffix": ".png", "image_exts": "",
                      "mask_mode": "binary", "list_file": None, "category": "object", "image_suffix": "",
                      "first": 0}
    # options added later are recorded in params() only when set, so earlier builds keep their identity
    LATER = {"image_suffix": "", "first": 0}

    def __init__(self, root: str | os.PathLike, **options):
        unknown = sorted(set(options) - set(self.DEFAULTS))
        if unknown:
            raise UsageError(f"{self.name}: unknown options {unknown}; valid: {sorted(self.DEFAULTS)}")
        self.options = {**self.DEFAULTS, **options}
        o = self.options
        if o["mask_mode"] not in MASK_MODES:
            raise UsageError(f"{self.name}: mask_mode must be one of {', '.join(MASK_MODES)}, not {o['mask_mode']!r}")
        self.root = resolve_root(root, self.name)
        self.image_dir = require_dir(self.root / o["images"], self.name, "image")
        self.mask_dir = require_dir(self.root / o["masks"], self.name, "mask")
        exts = tuple(e.strip().lower() for e in o["image_exts"].split(",") if e.strip()) or IMAGE_EXTS
        self.ann_files: list[Path] = []
        if o["list_file"]:
            lst = require_file(self.root / o["list_file"], self.name, "list file")
            self.ann_files = [lst]
            stems = sorted({Path(line.strip()).stem for line in lst.read_text().splitlines() if line.strip()})
            self.images = [self._image_for(stem, exts) for stem in stems]
        elif o["image_suffix"]:  # CascadePSP layout: <key>_im.jpg beside <key>_gt.png
            self.images = sorted(p for p in self.image_dir.iterdir() if p.is_file() and p.name.endswith(o["image_suffix"]))
        else:
            files = [p for p in image_files(self.image_dir) if p.suffix.lower() in exts]
            if self.image_dir == self.mask_dir:  # MSRA10K keeps images and masks side by side
                files = [p for p in files if p.name != p.stem + o["mask_suffix"]]
            self.images = files
        if not isinstance(o["first"], int) or isinstance(o["first"], bool) or o["first"] < 0:
            raise UsageError(f"{self.name}: first must be a whole number >= 0 (0 = every image), not {o['first']!r}")
        if o["first"]:  # SUM evaluates on "the first 1,000 images" of some validation sets
            self.images = self.images[:o["first"]]

    def _image_for(self, stem: str, exts: tuple) -> Path:
        for e in exts:
            for cand in (self.image_dir / (stem + e), self.image_dir / (stem + e.upper())):
                if cand.exists():
                    return cand
        return self.image_dir / (stem + exts[0])  # reported as missing when read

    def __len__(self) -> int:
        return len(self.images)

    def params(self) -> dict:
        options = {k: v for k, v in self.options.items() if k not in self.LATER or v != self.LATER[k]}
        return {"root": str(self.root), **options, "lists": files_digest(self.ann_files, self.root)}

    def _key(self, img_path: Path) -> str:
        suffix = self.options["image_suffix"]
        return img_path.name[:-len(suffix)] if suffix else img_path.stem

    def __getitem__(self, index: int) -> Sample:
        img_path = self.images[index]
        mask_path = self.mask_dir / (self._key(img_path) + self.options["mask_suffix"])
        image = read_image(img_path, root=self.root)
        mask = read_mask(mask_path, root=self.root)
        check_same_size(mask, image, mask_path, img_path)
        objects = mask_objects(mask, self.options["mask_mode"], mask_path, self.options["category"])
        return Sample(image_id=self._key(img_path), image=image, objects=objects, source=self.name)


def _preset(name: str, description: str, layout: str, defaults: dict, license: str = "see the dataset's own terms",
            citation: str = "", homepage: str = ""):
    cls = type(f"{name.title().replace('_', '')}Source", (ImageMaskFolders,),
               {"DEFAULTS": {**ImageMaskFolders.DEFAULTS, **defaults}, "license": license, "citation": citation,
                "homepage": homepage, "__doc__": description})
    return register_source(name, description=description, layout=layout)(cls)


ImageMaskFolderSource = _preset(
    "image_mask_folders", "generic image folder + mask folder paired by file stem (options: images, masks, "
    "mask_suffix, image_exts, mask_mode binary|nonzero|labels, list_file, category)",
    "<root>/<images>/<stem>.<ext> + <root>/<masks>/<stem><mask_suffix>", {})
EcssdSource = _preset(
    "ecssd", "ECSSD salient objects (1000 images, binary masks)",
    "<root>/images/<NNNN>.jpg + <root>/ground_truth_mask/<NNNN>.png", {"masks": "ground_truth_mask"},
    citation="@inproceedings{yan2013hierarchical, title={Hierarchical Saliency Detection}, author={Yan, Qiong and "
             "Xu, Li and Shi, Jianping and Jia, Jiaya}, booktitle={CVPR}, year={2013}}",
    homepage="https://www.cse.cuhk.edu.hk/leojia/projects/hsaliency/dataset.html")
Msra10kSource = _preset(
    "msra10k", "MSRA10K salient objects (images and masks side by side)",
    "<root>/MSRA10K_Imgs_GT/Imgs/<id>.jpg + <root>/MSRA10K_Imgs_GT/Imgs/<id>.png",
    {"images": "MSRA10K_Imgs_GT/Imgs", "masks": "MSRA10K_Imgs_GT/Imgs", "image_exts": ".jpg"},
    citation="@article{ChengPAMI, title={Global Contrast based Salient Region Detection}, author={Cheng, Ming-Ming "
             "and Mitra, Niloy J. and Huang, Xiaolei and Torr, Philip H. S. and Hu, Shi-Min}, journal={IEEE TPAMI}, "
             "year={2015}}",
    homepage="https://mmcheng.net/msra10k/")
DutsSource = _preset(
    "duts", "DUTS salient objects; DUTS-TE by default (images=DUTS-TR/DUTS-TR-Image, masks=DUTS-TR/DUTS-TR-Mask "
            "for the training set)",
    "<root>/DUTS-TE/DUTS-TE-Image/<name>.jpg + <root>/DUTS-TE/DUTS-TE-Mask/<name>.png",
    {"images": "DUTS-TE/DUTS-TE-Image", "masks": "DUTS-TE/DUTS-TE-Mask"},
    citation="@inproceedings{wang2017, title={Learning to Detect Salient Objects with Image-level Supervision}, "
             "author={Wang, Lijun and Lu, Huchuan and Wang, Yifan and Feng, Mengyang and Wang, Dong and Yin, "
             "Baocai and Ruan, Xiang}, booktitle={CVPR}, year={2017}}",
    homepage="http://saliencydetection.net/duts/")
HkuIsSource = _preset(
    "hku_is", "HKU-IS salient objects (layout as commonly redistributed; check your copy)",
    "<root>/imgs/<name>.png + <root>/gt/<name>.png", {"images": "imgs", "masks": "gt"},
    citation="@inproceedings{li2015visual, title={Visual Saliency Based on Multiscale Deep Features}, author={Li, "
             "Guanbin and Yu, Yizhou}, booktitle={CVPR}, year={2015}}",
    homepage="https://i.cs.hku.hk/~yzyu/research/deep_saliency.html")
ThinObject5kSource = _preset(
    "thinobject5k", "ThinObject-5K thin-structure objects; the images named in list/test.txt by default "
                    "(list_file=list/train.txt for training)",
    "<root>/images/<name>.jpg + <root>/masks/<name>.png + <root>/list/{train,test}.txt",
    {"list_file": "list/test.txt"},
    citation="@inproceedings{liew2021deep, title={Deep Interactive Thin Object Selection}, author={Liew, Jun Hao and "
             "Cohen, Scott and Price, Brian and Mai, Long and Feng, Jiashi}, booktitle={WACV}, year={2021}}",
    homepage="https://github.com/liewjunhao/thin-object-selection")
