"""The semantic-segmenter contract: one image in, per-class scores out (and, optionally, a per-pixel
uncertainty), and the checks the evaluator applies to what such a model returns.

Why a second contract beside ``PromptableSegmenter``: a semantic model takes no prompts and labels every
pixel with one of a fixed class list, so its output is a (C, H, W) score map, not masks per prompt. Both
kinds live in the one registry, told apart by ``ModelInfo.kind``."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .contract import check_failer


@dataclass
class SemanticPrediction:
    """scores: (C, H, W) float32 at input resolution, higher = more likely (logits, probabilities or code
    similarities: only the argmax is scored); uncertainty: (H, W) float32, higher = less sure, or None."""

    scores: np.ndarray
    uncertainty: Optional[np.ndarray] = None

    @property
    def labels(self) -> np.ndarray:
        """(H, W) uint8 class index per pixel: the argmax of the scores."""
        return np.argmax(self.scores, axis=0).astype(np.uint8)


class SemanticSegmenter(ABC):
    """``classes`` names the C output channels in order (train ids 0..C-1 of the dataset it was trained on).

    Factories take ``checkpoint`` (a local file) and ``device``, as promptable ones do; without a
    checkpoint a learned model is built on its seeded random init and marked ``random_weights`` by
    ``registry.create_model``. The one refusal of such a model (unless ``--random-weights``) is
    ``registry.check_model_arguments`` and the evaluators', shared with the instance track."""

    name: str = "unnamed"
    checkpoint_sha256: str = ""
    classes: tuple[str, ...] = ()

    @abstractmethod
    def predict(self, image: np.ndarray) -> SemanticPrediction:
        """Scores for every class and pixel of a uint8 HxWx3 RGB image."""


def validate_semantic_prediction(pred: SemanticPrediction, num_classes: int, height: int, width: int,
                                 where: str = "") -> None:
    """Raise ModelOutputError naming the failed check (type, shape, NaN)."""
    fail = check_failer(where)
    if not isinstance(pred, SemanticPrediction):
        fail("type", f"predict() must return SemanticPrediction, got {type(pred).__name__}")
    s = pred.scores
    if not isinstance(s, np.ndarray) or s.shape != (num_classes, height, width):
        fail("scores.shape", f"expected ({num_classes}, {height}, {width}), got {getattr(s, 'shape', type(s))}")
    if not np.isfinite(s).all():
        fail("scores.finite", "scores contain NaN or inf")
    if pred.uncertainty is not None:
        u = np.asarray(pred.uncertainty)
        if u.shape != (height, width):
            fail("uncertainty.shape", f"expected ({height}, {width}), got {u.shape}")
        if not np.isfinite(u).all():
            fail("uncertainty.finite", "uncertainty contains NaN or inf")
