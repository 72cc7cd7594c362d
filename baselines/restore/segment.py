"""Restoration-then-SAM: the two-stage baselines of RobustSAM's Tables 2-6 ("AirNet+SAM", "URIE+SAM"),
where "images are first passed through universal image restoration techniques to refine input quality,
subsequently followed by SAM-driven segmentation" (RobustSAM, Sec. 5.1).

``set_image`` restores the image at its own size with the restoration network, turns the result into an
8-bit RGB image as that network's code does, and hands that image to an unchanged SAM (the official
``segment_anything`` modules and predictor logic of ``baselines.sam``); prompts and masks stay in the
coordinates of the input image. Each model loads two files, the restoration network's release and SAM's,
given as one ``--checkpoint RESTORATION,SAM`` (``baselines.registry.split_checkpoint``); both load strictly
through ``baselines.checkpoints`` (weights only). Without a checkpoint both are random init, which the
registry refuses unless random weights are asked for."""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from ..contract import Prediction, PromptableSegmenter, Prompts, resolve_device
from ..family import init_model
from ..registry import register_model, split_checkpoint
from ..sam.predictor import check_image
from ..sam.sam import SAM, SAM_FILES
from .airnet import TASKS, build_airnet
from .urie import build_urie

URIE_FILE = "ECCV_SKUNET_OURS.ckpt.pt"
# sha256 of ECCV_MODELS/ECCV_SKUNET_OURS.ckpt.pt as committed in taeyoungson/urie (git blob 29fca7e0); the
# file the official README's commands load. AirNet's files are on Google Drive/Baidu with no published hash.
URIE_SHA256 = "e6fdba3a6cfb470f61511031134736c29d3d79e5c442b277d1c531891b3b2f38"


class RestoreThenSam(PromptableSegmenter):
    """A restoration network in front of a SAM adapter; ``restored`` is the image SAM saw last."""

    def __init__(self, restorer, segmenter: PromptableSegmenter, device: str = "cpu"):
        self.device = torch.device(resolve_device(device))
        self.restorer = restorer.eval().to(self.device)  # float32 whatever SAM's dtype: restoration is cheap
        self.segmenter = segmenter
        self.restored: Optional[np.ndarray] = None

    @property
    def name(self) -> str:
        return self.segmenter.name

    @name.setter
    def name(self, value: str) -> None:  # errors raised inside SAM then name this model
        self.segmenter.name = value

    def restore(self, image: np.ndarray) -> np.ndarray:
        """The restored uint8 HxWx3 image, same size as ``image``."""
        image = check_image(image, self.name)
        with torch.inference_mode():
            return self.restorer.to_image(self.restorer(self.restorer.to_input(image, self.device)))

    def set_image(self, image: np.ndarray) -> None:
        self.restored = self.restore(image)
        self.segmenter.set_image(self.restored)

    def set_images(self, images: Sequence[np.ndarray]) -> None:
        """Restore each image (sizes differ), then SAM's batched encoder on the restored images."""
        self.segmenter.set_images([self.restore(im) for im in images])

    def select_image(self, index: int) -> None:
        self.segmenter.select_image(index)

    def predict(self, prompts: Prompts, multimask: bool = False) -> Prediction:
        return self.segmenter.predict(prompts, multimask)


def make_restore_sam(model_name: str, files: tuple[str, str], build_restorer: Callable[[], torch.nn.Module],
                     variant: str, checkpoint: Optional[str], device: str, dtype, config: Optional[str],
                     restorer_sha256: Optional[str] = None) -> RestoreThenSam:
    """Both stages at a seeded random init, each then loaded strictly from its file when ``checkpoint`` is
    given. ``restorer_sha256`` is checked when the restoration file keeps its official name."""
    restore_path, sam_path = (None, None) if checkpoint is None else split_checkpoint(model_name, files, checkpoint)
    sha = restorer_sha256 if restore_path is not None and Path(restore_path).name == files[0] else None
    restorer, restorer_digest = init_model(build_restorer, restore_path, sha256=sha)
    sam = SAM.make(variant, sam_path, device=device, dtype=dtype, config=config)
    model = RestoreThenSam(restorer, sam, device=device)
    model.checkpoint_sha256 = f"{restorer_digest},{sam.checkpoint_sha256}" if checkpoint is not None else ""
    return model


def make_airnet_sam(variant: str, checkpoint: Optional[str] = None, device: str = "cpu", dtype="float32",
                    config: Optional[str] = None, task: str = "all") -> RestoreThenSam:
    """AirNet then SAM ``variant``; ``task`` names the AirNet release loaded (``all`` = All.pth, the
    all-in-one model for unknown degradations; denoise, derain, dehaze), which sets its queue length."""
    files = (TASKS[task][0] if task in TASKS else "All.pth", SAM_FILES[variant][0])
    return make_restore_sam(f"airnet_sam_{variant}", files, partial(build_airnet, config, task), variant, checkpoint,
                            device, dtype, config)


def make_urie_sam(variant: str, checkpoint: Optional[str] = None, device: str = "cpu", dtype="float32",
                  config: Optional[str] = None) -> RestoreThenSam:
    """URIE's SK-UNet then SAM ``variant``."""
    return make_restore_sam(f"urie_sam_{variant}", (URIE_FILE, SAM_FILES[variant][0]), partial(build_urie, config),
                            variant, checkpoint, device, dtype, config, restorer_sha256=URIE_SHA256)


def _register(prefix: str, restore_file: str, factory, description: str, verified: str) -> None:
    """``{prefix}_{variant}`` for every SAM size, loading ``restore_file`` then that size's SAM file."""
    for v, (sam_file, _) in SAM_FILES.items():
        register_model(f"{prefix}_{v}", checkpoint_files=(restore_file, sam_file),
                       requires=("torch", "segment_anything"), tags=("sam", "restoration"),
                       test_kwargs={"config": "tiny"},
                       description=description.format(label=v.upper().replace("_", "-")),
                       verified=f"{verified} SAM part: the registered sam_{v} (keys = official list, outputs = "
                                "official predictor logic).")(partial(factory, v))


_register("airnet_sam", "All.pth", make_airnet_sam,
          "AirNet (all-in-one restoration, CVPR 2022) on the image, then SAM {label} on the restored image",
          "AirNet keys/shapes = the official net/ code instantiated at bedea82 (All.pth queue 256x1280); outputs = "
          "the official AirNet with this DCN in mmcv's place on the same random weights (checked by hand, exact); "
          "DCN = mmcv's modulated_deform_conv2d definition (tested per pixel); no AirNet release file was "
          "available to load.")
_register("urie_sam", URIE_FILE, make_urie_sam,
          "URIE (ECCV 2020 enhancer) on the image, then SAM {label} on the restored image",
          "URIE keys/shapes = the released ECCV_SKUNET_OURS.ckpt.pt (module. prefix stripped) and the official "
          "SKUNet; outputs = the official SKUNet on the released weights (checked by hand, max difference 0; not a "
          "test: the file is not shipped).")
