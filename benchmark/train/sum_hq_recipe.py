"""SUM in HQ-SAM's architecture (``robustseg train sum-hq``): the SUM paper's Fig. 4 / Tables 10-13 rows
"SUM (HQ-SAM arch.)" and, with the Vanilla options, "Vanilla (HQ-SAM arch.)", fine-tuned "using the same
lightweight scheme as HQ-SAM" (§4.2): HQ-SAM's decoder additions and SUM's task tokens trained from
scratch, SAM frozen. The SUM authors' HQ-SAM-arch training script is the primary source here (the paper gives
no numbers for this setting beyond "we adhere to the HQ-SAM configuration", App. B.1); the SUM losses,
pseudo-labels, uncertainty maps and prompt sampling are the ``sum`` recipe's code paths. Every default names
its source."""
from __future__ import annotations

from baselines.sam.sum_training import CHOICES

from ..errors import UsageError
from .recipes import Recipe, add_recipe
from .sum_recipe import _ABLATION_SOURCES, _FILTERS
from .sum_setup import FAMILY_SETUP, prepare_sum

_P = "SUM (NeurIPS 2024)"
_CODE = "Kangningthu/SUM@2a1d378 sum_on_hq-sam/train/train_uncertainty_aware.py"
_README = "Kangningthu/SUM@2a1d378 sum_on_hq-sam/train/README.md"
HQ_MODULES = ("mask_decoder.hf_token.", "mask_decoder.hf_mlp.", "mask_decoder.compress_vit_feat.",
              "mask_decoder.embedding_encoder.", "mask_decoder.embedding_maskfeature.",
              "mask_decoder.task_prompt_tokens.", "mask_decoder.hf_type_tokens.")

SUM_HQ = Recipe(
    family="sum_hq", trainable=HQ_MODULES, optimizer="adam", lr=1e-3, weight_decay=0.0, schedule="step",
    final_lr_ratio=0.1, batch_size=32, train_size=1024, prompt="points_or_box", num_points=10,
    focal_weight=20.0, dice_weight=1.0, focal_gamma=2.0, focal_alpha=0.25, dice_smooth=1.0, iou_weight=0.0,
    grad_clip=float("inf"), loss="sum", unlabelled_fraction=0.5,
    options={"stage": "sum", "rounds": 1, "labelled_task": 1, "certainty_threshold": 0.5, **_FILTERS,
             "pseudo_label": "sam", "uncertainty": "refiner", "prompt_sampling": "certainty", "task_prompt": "first",
             "lr_drop_fraction": 10 / 12},
    sources={
        "trainable": f"{_P} §4.2 'the same lightweight fine-tuning scheme and architecture as HQ-SAM'; {_CODE} "
                     "l.103-152: MaskDecoderHQ loads SAM's decoder and freezes it (requires_grad False), then adds "
                     "hf_token, hf_mlp, compress_vit_feat, embedding_encoder, embedding_maskfeature (trained from "
                     "their random init) and, with --use_task_prompt_token yes (README), the task tokens "
                     "task_prompt_tokens 1-2 and hf_type_tokens 0-2 (l.174-200; type 0's mask-token vector frozen "
                     "at zero by --zero_token_no_grad, l.452, l.186); the image encoder and prompt encoder run under "
                     "no_grad (l.631, l.763)",
        "optimizer": f"{_CODE} l.534: optim.Adam(betas=(0.9, 0.999), eps=1e-8)",
        "lr": f"{_CODE} l.397: --learning_rate 1e-3",
        "weight_decay": f"{_CODE} l.534: weight_decay=0",
        "schedule": f"{_CODE} l.535: StepLR(step_size=--lr_drop_epoch 10) (gamma 0.1) over --max_epoch_num 12 "
                    "(l.399-400); ours: one drop to final_lr_ratio after options.lr_drop_fraction of --steps",
        "final_lr_ratio": f"{_CODE} l.535: StepLR's default gamma 0.1",
        "options.lr_drop_fraction": f"{_CODE} l.399-400: epoch 10 of 12 (10/12 of the run)",
        "batch_size": f"{_CODE} l.402 --batch_size_train 4 per GPU x 8 GPUs ({_README} nproc_per_node=8; "
                      f"{_P} App. B.1 'utilizing 8 GPUs') = 32 human-annotated images per step, each followed "
                      "(l.801-809) by an optimizer step on one unlabelled image per GPU with up to --max_num_mask 40 "
                      "pseudo-labels; ours: one step on 32 images of both kinds, one object each",
        "train_size": f"{_CODE} l.401 --input_size 1024 (HQ-SAM's LargeScaleJitter + RandomHFlip of the labelled "
                      "images, l.490-491, not reconstructed: ours the square resize of the data pipeline)",
        "prompt": f"{_CODE} l.604-627 / l.732-758: per object a box, points or a noisy ground-truth mask (1/3 "
                  "each, HQ-SAM's training); ours: box or points 1/2 each (the noise-mask prompt is not "
                  "reconstructed); unlabelled prompts come from the pseudo-label, its points drawn by certainty",
        "num_points": f"{_CODE} l.607 misc.masks_sample_points_with_weight(k=10): 10 positive points, drawn "
                      "without replacement with weights 1 - u on unlabelled images (uniformly on labelled ones)",
        "focal_weight": f"{_CODE} l.415 --lambda_focal 20 (unlabelled: l.656-665, torchvision sigmoid_focal_loss "
                        "weighted by 1 - u); on labelled images the code uses HQ-SAM's loss_masks (BCE + Dice on "
                        f"sampled points, l.784); ours: the same 20:1 focal + Dice on both ({_P} App. B.1)",
        "dice_weight": f"{_CODE} l.414 --lambda_dice 1",
        "focal_gamma": f"{_CODE} l.656 gamma=2",
        "focal_alpha": f"{_CODE} l.657 alpha=0.25",
        "dice_smooth": f"{_CODE} l.667-670 dice_loss_per_sample(smooth=1)",
        "iou_weight": f"{_CODE}: no IoU loss is computed (--lambda_iou is never read); SAM's IoU head is frozen",
        "grad_clip": f"none: {_CODE} does not clip gradients",
        "loss": f"{_P} §3.2.1 Eqs. 1-2 as {_CODE} l.655-673 (certainty-weighted focal, certainty-filtered Dice); "
                "the standard losses on labelled data (certainty 1)",
        "unlabelled_fraction": f"{_P} App. B.1: one human-annotated image per unlabelled image (FT-Small); "
                               "ours: a fixed half of the built dataset's images has its ground truth withheld",
        "options.rounds": f"{_README}: 'we have followed the HQ-SAM implementation and did not use the "
                          "interactive training method': one round",
        "options.certainty_threshold": f"{_CODE} l.32/l.667: dice_loss_per_sample's default threshold 0.5 "
                                       f"on 1 - u ({_P} App. B.1 gives theta = 0.6 for the full-SAM runs)",
        "options.min_pred_iou": f"{_P} App. B.1 SAM's mask filters (the HQ-SAM-arch code reads precomputed "
                                "SA-1B pseudo-labels filtered by area, utils/sam1b.py)",
        "options.min_stability": f"{_P} App. B.1: stability >= 95.0",
        "options.max_area": f"{_P} App. B.1; {_CODE} l.420 --max_ratio 0.95",
        "options.labelled_task": f"{_CODE} l.781: mask_type=1 for the HQSeg-44K batches (0 for SAM pseudo-labels, "
                                 "l.648; 2 is the code's entity type): the task token added to labelled items",
        **_ABLATION_SOURCES,
        "options.task_prompt": f"{_README} --use_task_prompt_token yes: 'first' adds the task tokens (labelled: "
                               "labelled_task, unlabelled: type 0) to the output tokens (l.297) in the one round; "
                               "'none' adds none (HQ-SAM's tokens: Vanilla, the standard protocol)",
        "length": f"{_CODE} l.400: 12 epochs over HQSeg-44K's 44,320 images (about 16,600 steps of 32); pass "
                  "--steps (the default is one epoch of the built dataset)",
    })



def prepare_sum_hq(model, recipe, refiner_checkpoint):
    """``prepare_sum`` after checking the labelled task is one of the code's trained types (1, 2)."""
    if recipe.options["labelled_task"] not in (1, 2):
        raise UsageError(f"recipe option labelled_task={recipe.options['labelled_task']}: valid: 1 (HQSeg-44K, "
                         "salient), 2 (entity)")
    return prepare_sum(model, recipe, refiner_checkpoint)


add_recipe(SUM_HQ, {"sum-hq": "sum_hq_sam_vit_h", **{f"sum_hq_sam_{v}": f"sum_hq_sam_{v}"
                                                      for v in ("vit_b", "vit_l", "vit_h")}},
           choices={**CHOICES, "task_prompt": ("first", "none")})  # one round: 'all' is 'first'
FAMILY_SETUP["sum_hq"] = prepare_sum_hq
