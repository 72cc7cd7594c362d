"""The training contract of a trainable model family: a batch of training items in, the outputs a recipe's
loss needs out. A family's module implements ``training_outputs(batch, generator=, gumbel_tau=)``
(``baselines/sam/training.py``); ``benchmark.train`` builds the batch and computes the loss, knowing nothing
of the family's internals. Torch-free to import, so the trainer can name these types before a model exists."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np


@dataclass(frozen=True)
class TrainingBatch:
    """Square uint8 images at ``train_size`` with one prompt each (points (N, 2) and/or a box (4,) in
    ``train_size`` pixel coordinates, positive clicks); ``clear`` are the paired clean images (RobustSAM);
    ``masks`` the ground-truth masks and ``unlabelled`` which items hide theirs, for families that sample
    prompts from the target inside their forward (SUM's interactive rounds and pseudo-labels)."""

    images: Sequence[np.ndarray]
    points: Sequence[Optional[np.ndarray]]
    boxes: Sequence[Optional[np.ndarray]]
    train_size: int
    clear: Optional[Sequence[np.ndarray]] = None
    masks: Optional[Sequence[np.ndarray]] = None
    unlabelled: Optional[Sequence[bool]] = None


@dataclass(frozen=True)
class TrainingOutputs:
    """Mask logits (B, 1, S, S) at ``train_size``; RobustSAM adds the output tokens and fused mask features of
    its degraded and clear branches, which its consistency losses compare. A family that makes its own
    targets (SUM: several interactive rounds, pseudo-labels for unlabelled items) returns them in ``targets``
    (same shape as ``logits``; ``None``: the batch's masks), with a per-pixel ``certainty`` in [0, 1] and
    the IoU head's predictions ``iou_pred`` (N, 1)."""

    logits: Any
    tokens: Optional[Any] = None
    clear_tokens: Optional[Any] = None
    features: Optional[Any] = None
    clear_features: Optional[Any] = None
    targets: Optional[Any] = None
    certainty: Optional[Any] = None
    iou_pred: Optional[Any] = None
