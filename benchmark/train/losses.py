"""Training losses as RobustSAM's official ``loss.py``/``engine.py`` define them (GaRA-SAM reuses the
segmentation part). Inputs are logits; every loss is a float32 scalar."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0, alpha: float = 0.25,
               balanced: bool = False) -> torch.Tensor:
    """Mean of ``alpha * (1 - p_t)**gamma * BCE``. As in RobustSAM's FocalLoss with a float alpha, alpha scales
    every pixel alike (not the alpha/1-alpha class balancing of Lin et al.), so it acts as a constant weight.
    ``balanced``: Lin et al.'s alpha on foreground and 1 - alpha on background, as SAM 2's training loss."""
    ce = F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="none")
    p_t = torch.exp(-ce)
    weight = alpha * target.float() + (1 - alpha) * (1 - target.float()) if balanced else alpha
    return (weight * (1 - p_t) ** gamma * ce).mean()


def dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1e-6) -> torch.Tensor:
    """Mean over samples of ``1 - (2|P∩G| + s) / (|P| + |G| + s)`` on sigmoid probabilities."""
    p = torch.sigmoid(logits.float()).flatten(1)
    t = target.float().flatten(1)
    dice = (2 * (p * t).sum(1) + smooth) / (p.sum(1) + t.sum(1) + smooth)
    return (1 - dice).mean()


@dataclass
class LossParts:
    """The weighted total and its unweighted parts (logged as curves)."""

    total: torch.Tensor
    focal: float
    dice: float
    token: float = 0.0
    embedding: float = 0.0
    iou: float = 0.0  # SUM: the IoU head's MSE
    adversarial: float = 0.0  # RUAC: segmentation loss on the attacked images
    alignment: float = 0.0  # RUAC: uncertainty-accuracy alignment L_cal_sym on the attacked images
    contrast: float = 0.0  # SUM's U2PL row: U2PL's pixel-contrastive loss
    consistency: float = 0.0  # SUM's AugSeg rows: the unlabelled consistency loss (focal + Dice vs the teacher)


def segmentation_loss(logits, target, recipe) -> tuple[torch.Tensor, float, float]:
    focal = focal_loss(logits, target, recipe.focal_gamma, recipe.focal_alpha, recipe.focal_balanced)
    dice = dice_loss(logits, target, recipe.dice_smooth)
    return recipe.focal_weight * focal + recipe.dice_weight * dice, float(focal.detach()), float(dice.detach())


def recipe_loss(recipe, logits, target, tokens=None, clear_tokens=None, embeddings=None,
                clear_embeddings=None, adversarial=None) -> LossParts:
    """Segmentation loss (times ``seg_weight``), plus RobustSAM's token and mask-feature consistency (MSE,
    degraded vs clear) and RUAC's attacked-branch loss (``ruac_loss``) when the recipe weights them."""
    total, focal, dice = segmentation_loss(logits, target, recipe)
    if recipe.seg_weight != 1.0:
        total = recipe.seg_weight * total
    token = embedding = 0.0
    if recipe.token_weight:
        t = F.mse_loss(tokens.float(), clear_tokens.float())
        total = total + recipe.token_weight * t
        token = float(t.detach())
    if recipe.embedding_weight:
        e = F.mse_loss(embeddings.float(), clear_embeddings.float())
        total = total + recipe.embedding_weight * e
        embedding = float(e.detach())
    adv = cal = 0.0
    if recipe.adversarial_weight and adversarial is not None:
        from .ruac_loss import adversarial_loss

        extra, adv, cal = adversarial_loss(recipe, adversarial)
        total = total + extra
    return LossParts(total, focal, dice, token, embedding, adversarial=adv, alignment=cal)
