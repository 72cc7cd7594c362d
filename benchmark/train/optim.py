"""The optimizer and learning-rate schedule a recipe asks for.

- Adam with one learning rate for every trainable parameter (GaRA-SAM, RobustSAM).
- Adam or AdamW with SAM's layer-wise learning-rate decay when the recipe sets ``layer_decay`` (SUM): one
  parameter group per parameter, in the trainable order, so a checkpoint's optimizer state maps to
  parameter names one to one whatever the decay.
- SAM 2's training setup that RUAC uses, when the recipe sets ``lr_groups``: AdamW with a learning rate per
  parameter group (the first of ``recipe.lr_groups`` whose name part a parameter's name contains, else
  ``recipe.lr``) and no weight decay on biases and ``torch.nn.LayerNorm`` weights.

Every group keeps its ``base_lr``; ``set_lr`` applies the schedule (constant, a cosine from each group's
rate down to ``final_lr_ratio`` of it, or one step down to that ratio after ``options["lr_drop_fraction"]`` of
the run: HQ-SAM's StepLR) as a function of the step, so a resumed run sets the same rates as an
uninterrupted one."""
from __future__ import annotations

import math
import re

import torch

from ..errors import UsageError

OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("constant", "cosine", "step")
_BLOCK = re.compile(r"^image_encoder\.blocks\.(\d+)\.")


def layer_scale(name: str, depth: int, decay: float) -> float:
    """ViTDet's ``get_vit_lr_decay_rate`` (SAM states ld 0.8 and released no training code): patch and
    position embeddings are layer 0, encoder block i is layer i + 1, everything else (neck, prompt encoder,
    mask decoder) is layer depth + 1; the rate is decay ** (depth + 1 - layer)."""
    if decay == 1.0:
        return 1.0
    if name.startswith(("image_encoder.patch_embed.", "image_encoder.pos_embed")):
        layer = 0
    else:
        m = _BLOCK.match(name)
        layer = int(m.group(1)) + 1 if m else depth + 1
    return decay ** (depth + 1 - layer)


def group_lr(name: str, recipe) -> float:
    return next((lr for part, lr in recipe.lr_groups if part in name), recipe.lr)


def _layernorm_weights(model) -> set[str]:
    return {f"{m_name}.weight" if m_name else "weight" for m_name, m in model.named_modules()
            if isinstance(m, torch.nn.LayerNorm) and m.weight is not None}


def _grouped(recipe, trainable: list, model) -> tuple[torch.optim.Optimizer, list]:
    no_decay = _layernorm_weights(model)
    groups: dict[tuple[float, float], list] = {}
    for name, p in trainable:
        wd = 0.0 if "bias" in name or name in no_decay else recipe.weight_decay
        groups.setdefault((group_lr(name, recipe), wd), []).append((name, p))
    rank = {lr: i for i, (_, lr) in enumerate(recipe.lr_groups)}  # recipe order first (the log shows group 0)
    keys = sorted(groups, key=lambda k: (rank.get(k[0], len(rank)), -k[1]))
    ordered = [item for k in keys for item in groups[k]]
    opt = torch.optim.AdamW([{"params": [p for _, p in groups[(lr, wd)]], "lr": lr, "base_lr": lr,
                              "weight_decay": wd} for lr, wd in keys], lr=recipe.lr)
    return opt, ordered


def make_optimizer(recipe, trainable: list, model) -> tuple[torch.optim.Optimizer, list]:
    """``trainable``: (name, parameter) pairs. Returns (optimizer, trainable reordered as the optimizer holds
    them: its state is indexed in that order)."""
    if recipe.optimizer not in OPTIMIZERS or recipe.schedule not in SCHEDULES:
        raise UsageError(f"recipe {recipe.family}: optimizer {recipe.optimizer!r} / schedule {recipe.schedule!r}; "
                         f"valid: {OPTIMIZERS} / {SCHEDULES}")
    drop = recipe.options.get("lr_drop_fraction")
    if recipe.schedule == "step" and not (isinstance(drop, float) and 0.0 <= drop <= 1.0):
        raise UsageError(f"recipe {recipe.family}: schedule 'step' needs option lr_drop_fraction in [0, 1], "
                         f"got {drop!r}")
    if recipe.lr_groups:
        if recipe.optimizer != "adamw" or recipe.layer_decay != 1.0:
            raise UsageError(f"recipe {recipe.family}: lr_groups need optimizer adamw and no layer_decay")
        return _grouped(recipe, trainable, model)
    if recipe.layer_decay != 1.0:
        depth = len(getattr(getattr(model, "image_encoder", None), "blocks", ()))
        rates = [recipe.lr * layer_scale(n, depth, recipe.layer_decay) for n, _ in trainable]
        groups = [{"params": [p], "lr": lr, "base_lr": lr} for (_, p), lr in zip(trainable, rates)]
    else:
        groups = [{"params": [p for _, p in trainable], "base_lr": recipe.lr}]
    cls = torch.optim.AdamW if recipe.optimizer == "adamw" else torch.optim.Adam
    return cls(groups, lr=recipe.lr, weight_decay=recipe.weight_decay), list(trainable)


def set_lr(optimizer, recipe, step: int, steps: int) -> float:
    """Set every group's rate for optimizer step ``step`` (1-based) of ``steps``; returns the rate the log
    shows: with ``lr_groups`` the first group's (RUAC: the head's), else the recipe's top rate (with layer
    decay, the rate of the layers after the image encoder)."""
    factor = 1.0
    if recipe.schedule == "cosine":
        r = recipe.final_lr_ratio
        factor = r + (1 - r) * 0.5 * (1 + math.cos(math.pi * (step - 1) / steps))
    elif recipe.schedule == "step":  # StepLR once: final_lr_ratio after options["lr_drop_fraction"] of the run
        factor = recipe.final_lr_ratio if step > recipe.options["lr_drop_fraction"] * steps else 1.0
    for g in optimizer.param_groups:
        g["lr"] = g["base_lr"] * factor
    return optimizer.param_groups[0]["lr"] if recipe.lr_groups else recipe.lr * factor
