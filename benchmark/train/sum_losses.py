"""SUM's uncertainty-aware losses (paper §3.2.1, Eqs. 1-2; Kangningthu/SUM ``utils/losses.py``). A per-pixel
certainty c in [0, 1] weights the focal loss and, thresholded at theta, filters the Dice loss; labelled
pixels have c = 1, where both equal the standard losses SAM trains with. The focal loss is torchvision's
``sigmoid_focal_loss`` (which the SUM code calls): Lin et al.'s alpha for positives, 1 - alpha for negatives.
Plus SAM's IoU-head loss: MSE between the predicted IoU and the IoU of the predicted mask with the target,
and, for the U2PL comparison row (option ``semisup=u2pl``), U2PL's contrastive loss (``u2pl_loss``); for the
AugSeg rows (``semisup=augseg``) the labelled and the consistency rows as two losses added."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .losses import LossParts
from .u2pl_loss import u2pl_contrastive


def sigmoid_focal(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0, alpha: float = 0.25) -> torch.Tensor:
    """Per-pixel focal loss, class-balanced by alpha (positives) and 1 - alpha (negatives)."""
    logits, target = logits.float(), target.float()
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = p * target + (1 - p) * (1 - target)
    loss = ce * (1 - p_t) ** gamma
    return loss * (alpha * target + (1 - alpha) * (1 - target)) if alpha >= 0 else loss


def ua_focal(logits, target, certainty, gamma: float = 2.0, alpha: float = 0.25) -> torch.Tensor:
    """Eq. 1: mean over pixels (and samples) of certainty x focal loss."""
    return (certainty.float() * sigmoid_focal(logits, target, gamma, alpha)).mean()


def ua_dice(logits, target, certainty, theta: float, smooth: float = 1.0) -> torch.Tensor:
    """Eq. 2: Dice loss over the pixels whose certainty exceeds theta, per sample, then averaged."""
    keep = (certainty.float() > theta).float().flatten(1)
    p = torch.sigmoid(logits.float()).flatten(1) * keep
    t = target.float().flatten(1) * keep
    dice = (2 * (p * t).sum(1) + smooth) / (p.sum(1) + t.sum(1) + smooth)
    return (1 - dice).mean()


def iou_head_loss(logits, target, iou_pred, certainty) -> torch.Tensor:
    """MSE between the IoU head's prediction and the IoU of (logits > 0) with the target, over the samples
    that carry any certainty (a pseudo-label SAM's filters dropped teaches nothing)."""
    pred = (logits.detach() > 0).flatten(1)
    t = target.detach().flatten(1) > 0.5
    union = (pred | t).sum(1).float()
    actual = (pred & t).sum(1).float() / union.clamp(min=1)
    live = (certainty.flatten(1).amax(1) > 0).float()
    err = (iou_pred.float().flatten() - actual) ** 2 * live
    return err.sum() / live.sum().clamp(min=1)


def sum_loss(recipe, logits, target, certainty=None, iou_pred=None, contrast=None, generator=None) -> LossParts:
    """focal_weight x UA focal + dice_weight x UA Dice (+ iou_weight x IoU-head MSE) (+ contrast_weight x
    U2PL's contrastive loss on ``contrast``, the forward's ``ContrastInputs``, with ``semisup=u2pl``)."""
    if certainty is None:
        certainty = torch.ones_like(target, dtype=torch.float32)
    theta = float(recipe.options.get("certainty_threshold", 0.6))
    focal = ua_focal(logits, target, certainty, recipe.focal_gamma, recipe.focal_alpha)
    dice = ua_dice(logits, target, certainty, theta, recipe.dice_smooth)
    total = recipe.focal_weight * focal + recipe.dice_weight * dice
    iou = 0.0
    if recipe.iou_weight and iou_pred is not None:
        i = iou_head_loss(logits, target, iou_pred, certainty)
        total = total + recipe.iou_weight * i
        iou = float(i.detach())
    con = 0.0
    if recipe.options.get("semisup") == "u2pl":
        if contrast is None:
            raise RuntimeError("semisup=u2pl needs the forward's contrast inputs (SumTrainingConfig semisup=u2pl)")
        c = u2pl_contrastive(contrast, generator)
        total = total + float(recipe.options["contrast_weight"]) * c
        con = float(c.detach())
    return LossParts(total, float(focal.detach()), float(dice.detach()), iou=iou, contrast=con)


def augseg_loss(recipe, logits, target, certainty, iou_pred, consistency) -> LossParts:
    """AugSeg's ``loss = sup_loss + unsup_loss * loss_weight``: SUM's loss on the labelled rows (certainty 1:
    SAM's focal + Dice + IoU head) plus ``augseg_weight`` x (focal_weight x focal + dice_weight x Dice) of the
    student's outputs against the teacher's binarized ones (SUM App. E.1 "focal loss and Dice loss ... with a
    weight ratio of 20:1"), each half a mean over its own rows. ``focal``/``dice`` log the labelled half."""
    sup = ~consistency
    zero = logits.sum() * 0
    parts = sum_loss(recipe, logits[sup], target[sup], certainty[sup], iou_pred[sup]) if bool(sup.any()) else \
        LossParts(zero, 0.0, 0.0)
    total, cons = parts.total, 0.0
    if bool(consistency.any()):
        theta = float(recipe.options.get("certainty_threshold", 0.6))
        lg, tg, c = logits[consistency], target[consistency], certainty[consistency]
        u = recipe.focal_weight * ua_focal(lg, tg, c, recipe.focal_gamma, recipe.focal_alpha) + \
            recipe.dice_weight * ua_dice(lg, tg, c, theta, recipe.dice_smooth)
        total = total + float(recipe.options["augseg_weight"]) * u
        cons = float(u.detach())
    return LossParts(total, parts.focal, parts.dice, iou=parts.iou, consistency=cons)
