"""AugSeg's strong augmentation of an unlabelled image (Zhao et al., "Augmentation Matters: A Simple-yet-
Effective Approach to Semi-supervised Semantic Segmentation", CVPR 2023; facts from ZhenZHAO/AugSeg @ 7ead870
``augseg/dataset/augs_TIBA.py`` ``strong_img_aug`` / ``get_augment_list`` and
``exps/zrun_vocs/r50_voc_semi662/config_semi.yaml`` ``strong_aug: num_augs 3, flag_use_random_num_sampling``).

The number of operations is drawn uniformly from 1..3, the operations with replacement from eleven
intensity-based ones (identity, autocontrast, equalize, Gaussian blur with sigma U[0.1, 2], contrast /
brightness / colour / sharpness with a factor in (0.05, 0.95], posterize to 4-7 bits, solarize at a threshold
in 1..255, hue shifted by up to +-0.5 of the circle), each applied through PIL as AugSeg does. The draws come
from a numpy generator the caller seeds (AugSeg uses Python's and numpy's global ones).

Not reconstructed: AugSeg's adaptive CutMix (pasting labelled / other unlabelled crops by confidence); in
interactive segmentation the prompts come from the image's own pseudo-label, which a pasted crop would cut."""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

NUM_AUGS = 3  # config_semi.yaml strong_aug.num_augs; flag_use_random_num_sampling: 1..NUM_AUGS operations


def _factor(rng, low=0.05, high=0.95) -> float:
    return high - (high - low) * float(rng.random())  # in (low, high]


def _hue(img: Image.Image, rng) -> Image.Image:
    v = 0.5 * float(rng.random())
    shift = -v if rng.random() < 0.5 else v
    h, s, val = img.convert("HSV").split()
    hue = (np.asarray(h, dtype=np.int64) + int(shift * 255)) % 256  # rotates across 0 / 255, as uint8 adds
    return Image.merge("HSV", (Image.fromarray(hue.astype(np.uint8), "L"), s, val)).convert("RGB")


OPS = {
    "identity": lambda img, rng: img,
    "autocontrast": lambda img, rng: ImageOps.autocontrast(img),
    "equalize": lambda img, rng: ImageOps.equalize(img),
    "blur": lambda img, rng: img.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(0.1, 2.0)))),
    "contrast": lambda img, rng: ImageEnhance.Contrast(img).enhance(_factor(rng)),
    "brightness": lambda img, rng: ImageEnhance.Brightness(img).enhance(_factor(rng)),
    "color": lambda img, rng: ImageEnhance.Color(img).enhance(_factor(rng)),
    "sharpness": lambda img, rng: ImageEnhance.Sharpness(img).enhance(_factor(rng)),
    "posterize": lambda img, rng: ImageOps.posterize(img, 8 - max(1, math.ceil(4 * float(rng.random())))),
    "solarize": lambda img, rng: ImageOps.solarize(img, 256 - max(1, math.ceil(255 * float(rng.random())))),
    "hue": _hue,
}


def strong_augment(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """(H, W, 3) uint8 -> its strongly augmented version and the operations applied, in order."""
    names = list(OPS)
    ops = [names[int(i)] for i in rng.integers(len(names), size=int(rng.integers(1, NUM_AUGS + 1)))]
    img = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), "RGB")
    for name in ops:
        img = OPS[name](img, rng)
    return np.asarray(img.convert("RGB"), dtype=np.uint8), ops
