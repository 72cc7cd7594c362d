"""Semantic-segmentation sources in their published layouts, all mapped to Cityscapes' 19 train ids
(the label space of every synthetic-to-real and adverse-condition benchmark ECOCSeg and its baselines use).

Label mappings are facts from the datasets' own tools: Cityscapes ``labelIds`` -> train ids from
cityscapesScripts ``helpers/labels.py`` (GTA5 label PNGs carry the same ids: Woof6/ECOCSeg
``tools/convert_datasets/gta.py``); SYNTHIA ids -> train ids from ``tools/convert_datasets/synthia.py``
(class id in the first channel of the 16-bit ``GT/LABELS`` PNG); ACDC ``gt_labelTrainIds`` and BDD100K
``sem_seg/masks`` are train ids already."""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..semantic import CITYSCAPES_CLASSES, IGNORE_INDEX, SemanticSample, map_ids
from .base import Source, register_source
from .common import check_same_size, require_dir, require_file, resolve_root
from .errors import BadSampleError
from .imageio import read_image, read_mask
from ...errors import BadInputError

CITYSCAPES_TO_TRAIN = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12,
                       26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
SYNTHIA_TO_TRAIN = {3: 0, 4: 1, 2: 2, 21: 3, 5: 4, 7: 5, 15: 6, 9: 7, 6: 8, 16: 9, 1: 10, 10: 11, 17: 12, 8: 13,
                    18: 14, 19: 15, 20: 16, 12: 17, 11: 18}
#: the 16 classes SYNTHIA -> Cityscapes is scored on (terrain, truck and train do not occur in SYNTHIA)
SYNTHIA_16 = tuple(c for c in CITYSCAPES_CLASSES if c not in ("terrain", "truck", "train"))
#: the 13 of mIoU* (DAFormer, MIC): SYNTHIA_16 without wall, fence and pole, whose SYNTHIA labels are unreliable
SYNTHIA_13 = tuple(c for c in SYNTHIA_16 if c not in ("wall", "fence", "pole"))
ACDC_CONDITIONS = ("fog", "night", "rain", "snow")


class SemanticSource(Source):
    """A sorted list of (image, label, condition) files; subclasses turn a label file into train ids."""

    classes: tuple[str, ...] = CITYSCAPES_CLASSES

    def __init__(self, pairs: list[tuple[Path, Path, str]]):
        self.pairs = pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def params(self) -> dict:
        return {"root": str(self.root), "split": getattr(self, "split", "")}

    def image_id(self, img_path: Path) -> str:
        return img_path.stem

    def labels(self, raw: np.ndarray, path: Path) -> np.ndarray:
        """Train ids from a label file's stored values (default: they are train ids already; checked)."""
        if raw.ndim != 2 or raw.dtype != np.uint8:
            raise BadSampleError(path, f"a train-id label map is single-channel 8-bit, got {raw.dtype} {raw.shape}")
        bad = np.unique(raw[(raw >= len(self.classes)) & (raw != IGNORE_INDEX)])
        if bad.size:
            raise BadSampleError(path, f"values {bad[:5].tolist()} are neither train ids 0..{len(self.classes) - 1} "
                                       f"nor {IGNORE_INDEX} (ignore)")
        return raw

    def __getitem__(self, index: int) -> SemanticSample:
        img_path, lab_path, condition = self.pairs[index]
        image = read_image(img_path)
        label = self.labels(read_mask(require_file(lab_path, self.name, "label")), lab_path)
        check_same_size(label, image, lab_path, img_path)
        return SemanticSample(self.image_id(img_path), image, label, self.name, condition)


def _split(split, source: str) -> str:
    """A split is a plain folder name (it is joined into paths): no separators, no '..'."""
    if not isinstance(split, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", split):
        raise BadInputError(f"{source}: split {split!r} must be a folder name of letters, digits, '_' or '-'")
    return split


def _same_name_pairs(root: Path, images: str, labels: str, source: str) -> list[tuple[Path, Path, str]]:
    """``<root>/<images>/*.png`` with the label of the same file name in ``<root>/<labels>`` (GTA5, SYNTHIA)."""
    img_dir = require_dir(root / images, source, "image")
    lab_dir = require_dir(root / labels, source, "label")
    return [(p, lab_dir / p.name, "clear") for p in sorted(img_dir.glob("*.png"))]


def _id_map(raw: np.ndarray, path: Path, table: dict[int, int]) -> np.ndarray:
    if raw.ndim != 2 or raw.dtype.kind not in "ui":
        raise BadSampleError(path, f"an id label map is single-channel integer, got {raw.dtype} {raw.shape}")
    if raw.size and raw.min() < 0:
        raise BadSampleError(path, f"negative label id {int(raw.min())}")
    return map_ids(raw.astype(np.int64), table)


@register_source("cityscapes-semantic", description="Cityscapes gtFine labelIds -> 19 train ids (semantic)",
                 layout="<root>/leftImg8bit/<split>/<city>/<name>_leftImg8bit.png + "
                        "<root>/gtFine/<split>/<city>/<name>_gtFine_labelIds.png")
class CityscapesSemantic(SemanticSource):
    license = "Cityscapes Dataset License (non-commercial research and teaching, no redistribution)"
    homepage = "https://www.cityscapes-dataset.com"

    def __init__(self, root: str | os.PathLike, split: str = "val"):
        self.root, self.split = resolve_root(root, self.name), _split(split, self.name)
        img_dir = require_dir(self.root / "leftImg8bit" / split, self.name, "image")
        gt_dir = require_dir(self.root / "gtFine" / split, self.name, "ground-truth")
        imgs = sorted(img_dir.glob("*/*_leftImg8bit.png"))
        super().__init__([(p, gt_dir / p.parent.name / p.name.replace("_leftImg8bit.png", "_gtFine_labelIds.png"),
                           "clear") for p in imgs])

    def image_id(self, img_path: Path) -> str:
        return img_path.name[: -len("_leftImg8bit.png")]

    def labels(self, raw, path):
        return _id_map(raw, path, CITYSCAPES_TO_TRAIN)


@register_source("acdc-semantic", description="ACDC fog/night/rain/snow with gt_labelTrainIds (semantic)",
                 layout="<root>/rgb_anon/<condition>/<split>/<seq>/<name>_rgb_anon.png + "
                        "<root>/gt/<condition>/<split>/<seq>/<name>_gt_labelTrainIds.png")
class AcdcSemantic(SemanticSource):
    real_conditions = True
    license = "ACDC terms of use (non-commercial research)"
    homepage = "https://acdc.vision.ee.ethz.ch"

    def __init__(self, root: str | os.PathLike, split: str = "val"):
        self.root, self.split = resolve_root(root, self.name), _split(split, self.name)
        rgb = require_dir(self.root / "rgb_anon", self.name, "image")
        pairs = []
        for cond in ACDC_CONDITIONS:
            for p in sorted((rgb / cond / split).glob("*/*_rgb_anon.png")):
                rel = p.relative_to(rgb).parent
                pairs.append((p, self.root / "gt" / rel / p.name.replace("_rgb_anon.png", "_gt_labelTrainIds.png"),
                              cond))
        if not pairs:
            raise BadInputError(f"{self.name}: no <condition>/{split}/<seq>/*_rgb_anon.png under {rgb} "
                             f"(conditions: {', '.join(ACDC_CONDITIONS)})")
        super().__init__(pairs)

    def image_id(self, img_path: Path) -> str:
        return img_path.name[: -len("_rgb_anon.png")]


@register_source("gta5", description="GTA5 (Playing for Data): Cityscapes label ids -> 19 train ids",
                 layout="<root>/images/<nnnnn>.png + <root>/labels/<nnnnn>.png")
class Gta5(SemanticSource):
    license = "GTA5 / Playing for Data: research use; images from a commercial game"
    homepage = "https://download.visinf.tu-darmstadt.de/data/from_games/"

    def __init__(self, root: str | os.PathLike):
        self.root = resolve_root(root, self.name)
        super().__init__(_same_name_pairs(self.root, "images", "labels", self.name))

    def labels(self, raw, path):
        return _id_map(raw, path, CITYSCAPES_TO_TRAIN)


@register_source("synthia", description="SYNTHIA-RAND-CITYSCAPES: 16-bit GT/LABELS -> 19 train ids (16 occur)",
                 layout="<root>/RGB/<nnnnnnn>.png + <root>/GT/LABELS/<nnnnnnn>.png")
class Synthia(SemanticSource):
    license = "SYNTHIA: CC BY-NC-SA 3.0"
    homepage = "https://synthia-dataset.net"

    def __init__(self, root: str | os.PathLike):
        self.root = resolve_root(root, self.name)
        super().__init__(_same_name_pairs(self.root, "RGB", "GT/LABELS", self.name))

    def labels(self, raw, path):
        if raw.ndim != 3 or raw.shape[2] < 1:
            raise BadSampleError(path, f"SYNTHIA labels are multi-channel PNGs (class id in the first), got {raw.shape}")
        return _id_map(np.ascontiguousarray(raw[:, :, 0]), path, SYNTHIA_TO_TRAIN)


@register_source("bdd100k-semantic", description="BDD100K 10K sem_seg masks (19 Cityscapes train ids)",
                 layout="<root>/images/10k/<split>/<name>.jpg + <root>/labels/sem_seg/masks/<split>/<name>.png")
class Bdd100kSemantic(SemanticSource):
    license = "BDD100K license (non-commercial research)"
    homepage = "https://bdd-data.berkeley.edu"

    def __init__(self, root: str | os.PathLike, split: str = "val"):
        self.root, self.split = resolve_root(root, self.name), _split(split, self.name)
        img_dir = require_dir(self.root / "images" / "10k" / split, self.name, "image")
        lab_dir = require_dir(self.root / "labels" / "sem_seg" / "masks" / split, self.name, "label")
        super().__init__([(p, lab_dir / f"{p.stem}.png", "clear") for p in sorted(img_dir.glob("*.jpg"))])
