"""One training forward for every family: the model's own ``training_outputs`` (each trainable family
defines it next to its modules, in baselines) on a batch of training items, then the recipe's loss. The
trainer knows nothing of a family's internals."""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from baselines.training import TrainingBatch

from .losses import LossParts, recipe_loss
from .sum_losses import augseg_loss, sum_loss


def training_loss(model, items, recipe, generator: Optional[torch.Generator], device) -> LossParts:
    """The recipe's loss of ``model`` (a trainable family's module) on ``items`` (train.data samples)."""
    batch = TrainingBatch(images=[it.image for it in items], points=[it.points for it in items],
                          boxes=[it.box for it in items], train_size=recipe.train_size,
                          clear=[it.clear for it in items] if recipe.paired else None,
                          masks=[it.mask for it in items], unlabelled=[it.unlabelled for it in items],
                          adversarial=recipe.adversarial_weight > 0)
    out = model.training_outputs(batch, generator=generator, gumbel_tau=recipe.gumbel_tau)
    target = out.targets if out.targets is not None else \
        torch.as_tensor(np.stack([it.mask for it in items]), device=device)[:, None].float()
    if recipe.loss == "sum":  # uncertainty-aware (certainty 1 on labelled pixels: the standard losses)
        if out.consistency is not None:  # AugSeg: sup_loss + weight x unsup_loss, as its train_semi.py
            return augseg_loss(recipe, out.logits, target, out.certainty, out.iou_pred, out.consistency)
        return sum_loss(recipe, out.logits, target, out.certainty, out.iou_pred, out.contrast, generator)
    return recipe_loss(recipe, out.logits, target, out.tokens, out.clear_tokens, out.features, out.clear_features,
                       out.adversarial)
