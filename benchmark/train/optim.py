"""The optimizer of a recipe: Adam or AdamW, with SAM's layer-wise learning-rate decay when the recipe sets
one. One parameter group per parameter, in the trainable order, so a checkpoint's optimizer state maps to
parameter names one to one whatever the decay."""
from __future__ import annotations

import re

import torch

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


def make_optimizer(model, trainable: list, recipe) -> torch.optim.Optimizer:
    """``trainable``: (name, parameter) pairs; lr and weight decay from the recipe."""
    if recipe.optimizer not in ("adam", "adamw"):
        raise ValueError(f"unknown optimizer {recipe.optimizer!r}; valid: adam, adamw")
    depth = len(getattr(getattr(model, "image_encoder", None), "blocks", ()))
    groups = [{"params": [p], "lr": recipe.lr * layer_scale(n, depth, recipe.layer_decay)} for n, p in trainable] \
        if recipe.layer_decay != 1.0 else [{"params": [p for _, p in trainable]}]
    cls = torch.optim.AdamW if recipe.optimizer == "adamw" else torch.optim.Adam
    return cls(groups, lr=recipe.lr, weight_decay=recipe.weight_decay)
