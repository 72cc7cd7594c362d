"""What SUM's training needs besides the model being trained, attached before the first step: a frozen copy
of the initial SAM (it makes the pseudo-labels) and, for the ``sum`` stage with unlabelled images, the
mask-refinement module a ``sum_refine`` run trained (it makes the uncertainty maps). Both start from the
same SAM, so the module must carry the initial image encoder unchanged (checked)."""
from __future__ import annotations

import copy
from dataclasses import fields
from typing import Optional

import torch

from baselines.checkpoints import CheckpointError, read_state_dict
from baselines.sam.sum_training import SumTrainingConfig

from ..errors import UsageError
from ..jobs import sha256_file


def _load_refiner(labeller, path: str):
    """The module a sum_refine run trained: a SUM model (for SUM in HQ-SAM's architecture, the model's
    ``refiner_template``) whose image encoder is the initial one."""
    sd = read_state_dict(path)
    refiner = labeller.refiner_template() if hasattr(labeller, "refiner_template") else copy.deepcopy(labeller)
    own, start = refiner.state_dict(), labeller.state_dict()
    if set(sd) != set(own) or any(tuple(sd[k].shape) != tuple(own[k].shape) for k in own):
        raise CheckpointError(f"{path}: not a sum_refine run's weights for this model size "
                              f"(keys or shapes differ from {type(refiner).__name__})")
    changed = sorted(k for k in start if k.startswith("image_encoder.") and not torch.equal(sd[k], start[k]))
    if changed:
        raise CheckpointError(f"{path}: the refinement module's image encoder differs from the initial SAM "
                              f"({changed[0]}, ...): train sum-refine from the same --init-checkpoint")
    refiner.load_state_dict(sd)
    return refiner


def prepare_sum(model, recipe, refiner_checkpoint: Optional[str]) -> dict:
    """Attach SUM's frozen helpers to ``model`` (its initial weights already loaded); return what the run
    identity must record (the refinement module's sha256)."""
    names = {f.name for f in fields(SumTrainingConfig)}
    try:
        cfg = SumTrainingConfig(**{k: v for k, v in recipe.options.items() if k in names},
                                num_points=recipe.num_points)
    except ValueError as e:
        raise UsageError(f"recipe {recipe.family}: {e}") from None
    labeller = copy.deepcopy(model)
    refiner, extra = None, {}
    if cfg.stage == "sum" and recipe.unlabelled_fraction > 0 and cfg.needs_refiner:
        if refiner_checkpoint is None:
            raise UsageError(f"training {recipe.family.replace('_', '-')} needs --refiner: the weights of a sum-refine "
                             "run on the same dataset "
                             "(its mask-refinement module makes the uncertainty maps)")
        refiner = _load_refiner(labeller, refiner_checkpoint)
        extra["refiner_sha256"] = sha256_file(refiner_checkpoint)
    elif refiner_checkpoint is not None and cfg.stage != "sum":
        raise UsageError(f"--refiner is only for training sum and sum-hq (this recipe is {recipe.family})")
    elif refiner_checkpoint is not None:
        why = ("no image is unlabelled (unlabelled_fraction 0)" if recipe.unlabelled_fraction <= 0 else
               "semisup=augseg trains against its EMA teacher, not the mask-refinement module"
               if cfg.semisup == "augseg" else
               f"uncertainty={cfg.uncertainty} and pseudo_label={cfg.pseudo_label} involve no mask-refinement module")
        raise UsageError(f"--refiner is not read by this train sum run: {why}; drop it")
    model.attach_training(cfg, labeller, refiner)
    return extra


FAMILY_SETUP = {"sum": prepare_sum, "sum_refine": prepare_sum}  # recipe family -> setup (sum_hq: sum_hq_recipe)
