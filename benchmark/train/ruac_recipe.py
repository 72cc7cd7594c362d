"""RUAC's training recipe (``robustseg train ruac``): SAM 2.1 Hiera-B+ with its image encoder frozen, the
BNDL uncertainty head trained from scratch (a SAM 2.1 checkpoint has none; RUAC's released head cannot be
loaded into our reconstructed key names), the two attackers trained against the model through gradient
reversal, and the rest of SAM 2's decoder and prompt encoder moved at SAM 2's small base rate. Every number
is from RUAC's published training config unless ``sources`` says otherwise."""
from __future__ import annotations

from .recipes import Recipe, add_recipe

_CFG = "HongyouZhou/ruac@c2d107d ruac/configs/sam2_ruac_train.yaml"
_PAPER = "RUAC (seed 003)"

RUAC = Recipe(
    family="ruac",
    trainable=("sam_mask_decoder.", "sam_prompt_encoder.", "no_mem_embed", "style_attacker.",
               "deform_attacker.offset_net."),
    frozen=("sam_mask_decoder.output_hypernetworks_mlps.",),
    lr=1e-6, lr_groups=(("sam_mask_decoder.pixel_bndl.", 1e-4), ("style_attacker.", 1e-3),
                        ("deform_attacker.", 1e-3)),
    weight_decay=0.1, optimizer="adamw", schedule="cosine", final_lr_ratio=0.1,
    batch_size=32, train_size=1024, prompt="points_or_box", num_points=1,
    focal_weight=20.0, dice_weight=1.0, focal_balanced=True, focal_gamma=2.0, focal_alpha=0.25, dice_smooth=1.0,
    grad_clip=0.1, seg_weight=0.8, adversarial_weight=0.2, alignment_weight=0.1, alignment_l2_weight=1.0,
    adversarial_from_epoch=7,
    sources={
        "trainable": f"{_CFG}: freeze_image_encoder (all 20 epochs); optim.options.lr gives pixel_bndl, the "
                     "attackers and every other parameter (SAM 2 decoder, prompt encoder, no_mem_embed) a rate; "
                     "the deformation attacker's mask encoder, projection and fuser are copied from SAM 2's "
                     "memory encoder and frozen (deform.freeze_encoder_components); the style GCN is not built "
                     "(ours: one object per image, see docs/training.md)",
        "frozen": f"{_CFG}: output_hypernetworks_mlps at lr 0 (unused once BNDL replaces hyper_in @ upscaled)",
        "lr": f"{_CFG}: scratch.base_lr 1e-6 for SAM 2's decoder and prompt encoder",
        "lr_groups": f"{_CFG}: sam_mask_decoder.pixel_bndl.* 1e-4; style_attacker.* / deform_attacker.* 1e-3",
        "weight_decay": f"{_CFG}: 0.1, 0 on '*bias*' and torch.nn.LayerNorm weights",
        "optimizer": f"{_CFG}: torch.optim.AdamW",
        "schedule": f"{_CFG}: CosineParamScheduler from each rate to a tenth of it (final_lr_ratio 0.1), per step",
        "batch_size": f"{_CFG}: train_batch_size 2 per GPU x 8 GPUs x gradient_accumulation_steps 2 = 32 images "
                      "(up to 3 objects each there; one here)",
        "train_size": f"{_CFG}: scratch.resolution 1024 (SAM 2's input size)",
        "prompt": f"{_CFG}: prob_to_use_pt_input_for_train 0.5, prob_to_use_box_input_for_train 0.5; one click "
                  "(SAM 2 training's first click); its corrective clicks (num_correction_pt_per_frame 7) are "
                  "not simulated (ours)",
        "num_points": f"{_CFG}: a click prompt is one positive point (SAM 2 training's initial click)",
        "focal_weight": f"{_CFG}: loss_mask 20 (SAM 2 sigmoid focal loss, alpha 0.25 / 0.75 by class, gamma 2); "
                        "loss_iou and loss_class (IoU and object-score heads) are not computed (ours)",
        "dice_weight": f"{_CFG}: loss_dice 1 (SAM 2's dice, smoothing 1)",
        "grad_clip": f"{_CFG}: GradientClipper max_norm 0.1",
        "seg_weight": f"{_CFG}: loss.all.weight_schedule sam_weight 0.8 once the adversarial branch is on (1 before)",
        "adversarial_weight": f"{_CFG}: aue_weight 0.2 (paper §3.5 curriculum); aue_loss.task_weight 1",
        "alignment_weight": f"{_CFG}: aue_loss.cal_weight 0.1 (lambda of {_PAPER} Eq. 5)",
        "alignment_l2_weight": f"{_CFG}: aue_loss.dual_sg_l2_weight 1.0 (the dual stop-gradient mirror term)",
        "adversarial_from_epoch": f"{_CFG}: weight_schedule stages until_epoch 4 (SAM loss only) and 6 (+BNDL KL "
                                  "at 1e-11 x 0.05, not computed here), adversarial branch from epoch 7 of 20",
    })

add_recipe(RUAC, {"ruac": "ruac_sam2.1_hiera_b+", "ruac_sam2.1_hiera_b+": "ruac_sam2.1_hiera_b+"})
