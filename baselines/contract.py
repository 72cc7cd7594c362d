"""The promptable-segmenter contract every model implements, and the checks the evaluator
applies to what a model returns."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np


@dataclass
class Prompts:
    """A batch of B prompts for one image. Coordinates are (x, y) pixels of the input image.

    boxes: (B, 4) float32 xyxy; points: (B, P, 2) float32; point_labels: (B, P) int32, 1 = foreground,
    0 = background; mask_inputs: (B, 1, 256, 256) float32 low-res logits of a previous round (SAM style).
    Any may be None, but each prompt needs a box or at least one point."""

    boxes: Optional[np.ndarray] = None
    points: Optional[np.ndarray] = None
    point_labels: Optional[np.ndarray] = None
    mask_inputs: Optional[np.ndarray] = None

    def __len__(self) -> int:
        for a in (self.boxes, self.points):
            if a is not None:
                return int(a.shape[0])
        raise ValueError("a prompt needs boxes or points")

    def select(self, idx) -> "Prompts":
        return Prompts(*(None if a is None else a[idx] for a in (self.boxes, self.points, self.point_labels, self.mask_inputs)))


@dataclass
class Prediction:
    """Model output for B prompts and K masks per prompt (K = 1, or 3 with multimask).

    masks: (B, K, H, W) bool at input resolution; scores: (B, K) float32 predicted IoU or confidence;
    logits: (B, K, h, w) float32 low-res logits to feed back in interactive rounds, or None;
    uncertainty: (B, K, H, W) float32 per-pixel uncertainty (higher = less sure), or None."""

    masks: np.ndarray
    scores: np.ndarray
    logits: Optional[np.ndarray] = None
    uncertainty: Optional[np.ndarray] = None


class PromptableSegmenter(ABC):
    """Set an image once, then predict for any number of prompt batches on it.

    ``multimask=True`` asks for the model's 3 candidate masks (K = 3); models that produce one mask
    (HQ-SAM's HQ token, RobustSAM's robust token, weight-free baselines) return K = 1 regardless. The
    evaluator picks the candidate with the highest score. ``multimask=False`` always gives K = 1.

    Factories take ``checkpoint`` (local file path or None for random init), ``device`` ("cpu", "cuda",
    "cuda:1", "auto") and, for torch models, ``dtype`` ("float32", "bfloat16", "float16"); inputs and
    outputs are numpy whatever the device. ``Prediction.logits`` are the model's low-res logits, which the
    evaluator feeds back as ``Prompts.mask_inputs`` in the next interactive round."""

    name: str = "unnamed"
    checkpoint_sha256: str = ""  # of the loaded checkpoint file; empty for weight-free models
    random_weights: bool = False  # learned weights left at their random init (no checkpoint): results say so

    @abstractmethod
    def set_image(self, image: np.ndarray) -> None:
        """Take a uint8 HxWx3 RGB image; expensive work (image encoding) happens here once."""

    @abstractmethod
    def predict(self, prompts: Prompts, multimask: bool = False) -> Prediction:
        """Masks for every prompt of the batch, on the image of the last ``set_image``."""

    def set_images(self, images: Sequence[np.ndarray]) -> None:
        """Encode several images at once (on a GPU, one batched forward); ``select_image(i)`` then makes
        image i current, as ``set_image`` would. This default keeps the images and encodes each one when
        it is selected; models with a batched encoder override both methods."""
        self._pending_images = list(images)

    def select_image(self, index: int) -> None:
        self.set_image(self._pending_images[index])


DTYPES = ("float32", "bfloat16", "float16")


def resolve_device(device: str = "cpu") -> str:
    """``"auto"`` picks ``cuda`` when torch sees a GPU, else ``cpu``; any other torch device string passes
    through. Torch is imported only here, so weight-free models never need it."""
    if device != "auto":
        return device
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_dtype(dtype="float32"):
    """A ``torch.dtype`` from a name in DTYPES (or a torch.dtype); half precision is for GPUs."""
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise ModelArgumentError(f"unknown dtype {dtype!r}; valid: {', '.join(DTYPES)}")
    return getattr(torch, dtype)


class ModelArgumentError(ValueError):
    """A checkpoint, option or config the model does not take, or a model with learned weights asked to run
    without them (random init) when that was not asked for explicitly."""


class ModelOutputError(RuntimeError):
    """A model broke the contract; the message names the check that failed."""


def check_failer(where: str = ""):
    """``fail(check, detail)``: raise ModelOutputError naming the failed check and, if given, the sample."""
    at = f" ({where})" if where else ""

    def fail(check: str, detail: str) -> None:
        raise ModelOutputError(f"model output failed check '{check}'{at}: {detail}")

    return fail


def validate_prediction(pred: Prediction, batch: int, height: int, width: int, where: str = "") -> None:
    """Raise ModelOutputError naming the failed check (shape, dtype, NaN, range)."""
    fail = check_failer(where)
    if not isinstance(pred, Prediction):
        fail("type", f"predict() must return Prediction, got {type(pred).__name__}")
    m = pred.masks
    if not isinstance(m, np.ndarray) or m.ndim != 4:
        fail("masks.shape", f"masks must be a (B, K, H, W) array, got {getattr(m, 'shape', type(m))}")
    if m.dtype != np.bool_:
        fail("masks.dtype", f"masks must be bool, got {m.dtype}")
    if m.shape[0] != batch or m.shape[2:] != (height, width) or m.shape[1] < 1:
        fail("masks.shape", f"expected ({batch}, K, {height}, {width}), got {m.shape}")
    k = m.shape[1]
    s = np.asarray(pred.scores)
    if s.shape != (batch, k):
        fail("scores.shape", f"expected ({batch}, {k}), got {s.shape}")
    if not np.isfinite(s).all():
        fail("scores.finite", "scores contain NaN or inf")
    if pred.logits is not None:
        lg = np.asarray(pred.logits)
        if lg.ndim != 4 or lg.shape[:2] != (batch, k):
            fail("logits.shape", f"expected ({batch}, {k}, h, w), got {lg.shape}")
        if np.isnan(lg).any():
            fail("logits.finite", "logits contain NaN")
    if pred.uncertainty is not None:
        u = np.asarray(pred.uncertainty)
        if u.shape != m.shape:
            fail("uncertainty.shape", f"expected {m.shape}, got {u.shape}")
        if not np.isfinite(u).all():
            fail("uncertainty.finite", "uncertainty contains NaN or inf")
