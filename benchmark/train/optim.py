"""The optimizer and learning-rate schedule a recipe asks for. Adam with one learning rate for every trainable
parameter (GaRA-SAM, RobustSAM), or SAM 2's training setup that RUAC uses: AdamW with a learning rate per
parameter group (the first of ``recipe.lr_groups`` whose name part a parameter's name contains, else
``recipe.lr``), no weight decay on biases and ``torch.nn.LayerNorm`` weights, and a cosine schedule from each
group's rate down to ``final_lr_ratio`` of it. The rate is a function of the step, so a resumed run sets the
same rates as an uninterrupted one."""
from __future__ import annotations

import math

import torch

from ..errors import UsageError

OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("constant", "cosine")


def group_lr(name: str, recipe) -> float:
    return next((lr for part, lr in recipe.lr_groups if part in name), recipe.lr)


def _layernorm_weights(model) -> set[str]:
    return {f"{m_name}.weight" if m_name else "weight" for m_name, m in model.named_modules()
            if isinstance(m, torch.nn.LayerNorm) and m.weight is not None}


def make_optimizer(recipe, trainable: list, model) -> tuple[torch.optim.Optimizer, list]:
    """(optimizer, trainable reordered as the optimizer holds them: its state is indexed in that order)."""
    if recipe.optimizer not in OPTIMIZERS or recipe.schedule not in SCHEDULES:
        raise UsageError(f"recipe {recipe.family}: optimizer {recipe.optimizer!r} / schedule {recipe.schedule!r}; "
                         f"valid: {OPTIMIZERS} / {SCHEDULES}")
    if recipe.optimizer == "adam":
        params = [p for _, p in trainable]
        opt = torch.optim.Adam([{"params": params, "base_lr": recipe.lr}], lr=recipe.lr,
                               weight_decay=recipe.weight_decay)
        return opt, list(trainable)
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


def set_lr(optimizer, recipe, step: int, steps: int) -> float:
    """Set every group's rate for optimizer step ``step`` (1-based) of ``steps``; returns the first group's."""
    factor = 1.0
    if recipe.schedule == "cosine":
        r = recipe.final_lr_ratio
        factor = r + (1 - r) * 0.5 * (1 + math.cos(math.pi * (step - 1) / steps))
    for g in optimizer.param_groups:
        g["lr"] = g["base_lr"] * factor
    return optimizer.param_groups[0]["lr"]
