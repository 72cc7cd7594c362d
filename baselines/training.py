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
    prompts from the target inside their forward (SUM's interactive rounds and pseudo-labels) or attack it
    (RUAC); ``adversarial`` asks for the attacked branch."""

    images: Sequence[np.ndarray]
    points: Sequence[Optional[np.ndarray]]
    boxes: Sequence[Optional[np.ndarray]]
    train_size: int
    clear: Optional[Sequence[np.ndarray]] = None
    masks: Optional[Sequence[np.ndarray]] = None
    unlabelled: Optional[Sequence[bool]] = None
    adversarial: bool = False


@dataclass(frozen=True)
class AdversarialOutputs:
    """RUAC's attacked branch: single-mask logits and the warped target (B, 1, S, S); at the decoder's low
    resolution (B, h, w) the pixel logits (max over the mask tokens), the warped target, and the uncertainty
    (mean over the mask tokens) sampled (no gradient) and in closed form (with gradient)."""

    logits: Any
    target: Any
    pixel_logits: Any
    pixel_target: Any
    uncertainty_sampled: Any
    uncertainty_analytic: Any


@dataclass(frozen=True)
class TrainingOutputs:
    """Mask logits (B, 1, S, S) at ``train_size``; RobustSAM adds the output tokens and fused mask features of
    its degraded and clear branches, which its consistency losses compare; RUAC its attacked branch. A
    family that makes its own targets (SUM: several interactive rounds, pseudo-labels for unlabelled items)
    returns them in ``targets`` (same shape as ``logits``; ``None``: the batch's masks), with a per-pixel
    ``certainty`` in [0, 1] and the IoU head's predictions ``iou_pred`` (N, 1). ``contrast``: what a
    pixel-contrastive term needs (SUM's U2PL variant: ``sam.sum_semisup.ContrastInputs``)."""

    logits: Any
    tokens: Optional[Any] = None
    clear_tokens: Optional[Any] = None
    features: Optional[Any] = None
    clear_features: Optional[Any] = None
    targets: Optional[Any] = None
    certainty: Optional[Any] = None
    iou_pred: Optional[Any] = None
    adversarial: Optional[AdversarialOutputs] = None
    contrast: Optional[Any] = None
    consistency: Optional[Any] = None  # (N,) bool: rows of an unlabelled consistency loss (SUM's AugSeg rows)
