"""SUM's two training recipes (Liu et al., "Uncertainty-aware Fine-tuning of Segmentation Foundation
Models", NeurIPS 2024; code Kangningthu/SUM @ 2a1d378), each default with its source. ``sum_refine`` trains
the mask-refinement module on the labelled share of a built dataset; ``sum`` fine-tunes SAM on the labelled
share (ground truth) and the unlabelled share (SAM pseudo-labels with the module's uncertainty maps).
Where the paper (full-SAM main experiments) and the public code (SUM on the HQ-SAM architecture) differ,
the paper is followed and the source says so. Registered with ``add_recipe`` as every family is."""
from __future__ import annotations

from baselines.sam.sum_training import CHOICES

from .recipes import Recipe, add_recipe

_P = "SUM (NeurIPS 2024)"
_CODE = "Kangningthu/SUM@2a1d378"
_FILTERS = {"min_pred_iou": 0.88, "min_stability": 0.95, "max_area": 0.95}

_SHARED = {
    "optimizer": f"{_P} App. B.1 'Following SAM, we use the AdamW optimizer' (the HQ-SAM-arch code uses Adam)",
    "lr": f"{_P} App. B.1: learning rate 1e-5, no schedule given (constant here); {_CODE} HQ-SAM-arch "
          "train_uncertainty_aware.py uses 1e-3 for its HQ tokens only",
    "weight_decay": "ours: SAM's 0.1 (SUM follows SAM's AdamW and states no weight decay; the HQ-SAM-arch code "
                    "uses 0); applied to every trained parameter",
    "batch_size": f"{_P} App. B.1: 40 images per step (one image with up to 30 masks per GPU); ours: one object "
                  "(the largest) per image",
    "train_size": f"SAM's 1024 input ({_CODE} ResizeLongestSide(1024)); ours: the square resize of the data "
                  "pipeline instead of resize-longest-side + pad",
    "focal_weight": f"{_P} App. B.1 focal:Dice = 20:1 as SAM; {_CODE} --lambda_focal 20",
    "dice_weight": f"{_P} App. B.1; {_CODE} --lambda_dice 1",
    "focal_gamma": f"{_CODE} utils/losses.py sigmoid_focal_loss(gamma=2, alpha=0.25), class-balanced alpha",
    "focal_alpha": f"{_CODE} utils/losses.py alpha=0.25 (torchvision's: alpha positives, 1-alpha negatives)",
    "dice_smooth": f"{_CODE} utils/losses.py smooth=1 (the paper's epsilon, value not given)",
    "grad_clip": f"none: neither {_P} nor {_CODE} clips gradients (inf = no clipping)",
    "unlabelled_fraction": f"{_P} App. B.1: one human-annotated image per unlabelled image (FT-Small/Medium); "
                           "ours: a built dataset is fully labelled, so a fixed half of its images (by image id) "
                           "has its ground truth withheld and SAM pseudo-labels it",
    "options.min_pred_iou": f"{_P} App. B.1 SAM's mask filters: predicted IoU >= 88.0",
    "options.min_stability": f"{_P} App. B.1: stability (IoU of logits > +1 and > -1) >= 95.0",
    "options.max_area": f"{_P} App. B.1: masks covering >= 95% of the image dropped",
    "options.certainty_threshold": f"{_P} App. B.1 theta = 0.6 (followed; {_CODE} utils/losses.py defaults 0.5)",
}


_ABLATION_DEFAULTS = {"pseudo_label": "sam", "uncertainty": "refiner", "prompt_sampling": "certainty",
                      "task_prompt": "first", "semisup": "none", "contrast_weight": 1.0, "augseg_prompt": "mixed",
                      "augseg_consistency": "best", "augseg_grid_side": 32, "augseg_ema": 0.999, "augseg_weight": 1.0}
_AUGSEG = "ZhenZHAO/AugSeg@7ead870"
_ABLATION_SOURCES = {  # the default (SUM), then what each other value reproduces
    "options.pseudo_label": f"{_P} §3.1: 'sam' = SAM's pseudo-label (the automatic-mask output); 'refined' = "
                            "the mask-refinement module's refined mask as pseudo-label, §4.3 Table 2 'Mask "
                            "Refinement: uses the refined masks produced by the mask-refinement module of SUM as "
                            "pseudo labels ... otherwise the same as the Vanilla baseline'",
    "options.uncertainty": f"{_P} §3.2.3 Eq. 3: 'refiner' = c = 1 - |sigmoid(s) - sigmoid(r)|; 'none' = c 1 on "
                           "kept pseudo-labels, §4.1 Vanilla 'following the standard SAM training protocol, "
                           "without discriminating between human and SAM pseudo labels'; 'confidence' = §4.2 SUM "
                           "Confidence-Uncer 'uses logit confidence of SAM prediction', ours: c = max(p, 1 - p), "
                           "p = sigmoid(s); 'discrepancy' = §4.2 SUM Discrepancy-Uncer 'the discrepancy between "
                           "multiple predictions for a target mask' with App. E.1's box derived from the pseudo-"
                           "label, ours: c = 1 - |sigmoid(s) - sigmoid(b)|, b the initial SAM's answer to that box "
                           "(the paper's teacher-student / dual-decoder networks are not reconstructed)",
    "options.prompt_sampling": f"{_P} §3.2.2: 'certainty' = P_i = c_i / sum c; 'uniform' = SAM's uniform draw "
                               "over the region, App. F.2 'a version of SUM without uncertainty-aware sampling' "
                               "(the uncertainty-aware loss kept)",
    "options.task_prompt": f"{_P} §3.2.4 / App. B.2: 'first' = task prompt with the first prompt only; 'all' = "
                           "§4.3 Table 2 SUM Continuous TP, 'utilized continuously in all rounds ... during "
                           "training and inference' (evaluate with the model option task_rounds=all); 'none' = "
                           "§4.3 'SUM w/o Task Prompt' and Vanilla (SAM's protocol has no task prompt)",
    "options.semisup": f"{_P} App. E.1 semi-supervised baselines: 'none' = SUM; 'u2pl' = U2PL adapted as SUM did "
                       "('the same uncertainty map as used in SUM', 'task prompts', 'the standard loss function for "
                       "both labeled and unlabeled examples' plus U2PL's 'contrastive loss to regularize the "
                       "encoder's image embeddings'): the map no longer weights the loss (certainty 1 on kept "
                       "pseudo-labels, as Vanilla) but splits reliable (c > theta) from unreliable pixels for "
                       "U2PL's contrastive loss (benchmark/train/u2pl_loss.py: Haochen-Wang409/U2PL@ab3d2be "
                       "temperature 0.5, 256 anchors, 50 negatives each, anchor threshold 0.3, rank rule with "
                       "r_l = 1 for two classes as its issue #11 advises; negatives from the batch, not a memory "
                       "bank); the teacher is the initial SAM (it makes the pseudo-labels), its image embeddings "
                       "the keys (U2PL: an EMA teacher's representation head); 'augseg' = AugSeg adapted as SUM "
                       "did (see options.augseg_*)",
    "options.contrast_weight": f"{_P} App. E.1 'setting the contrastive loss weight to be 1 gets the best "
                               "performance'; Haochen-Wang409/U2PL@ab3d2be train_semi.py contrastive loss_weight "
                               "default 1 (pascal config); read only with semisup=u2pl",
    "options.augseg": f"{_P} §4.2 / App. E.1 (semisup=augseg) 'AugSeg employs a teacher-student framework ... For the "
                              "human-annotated data, we employ SAM's training procedure ... For the unlabeled data, "
                              "we apply a consistency loss based on predictions from two augmented versions of the "
                              "same image, processed by the student and teacher networks. We binarize the prediction "
                              "from the teacher network as the target, focal loss and Dice loss are added ... 20:1'; "
                              f"teacher on the image (weak view), student on its strong augmentation ({_AUGSEG} "
                              "augs_TIBA.py strong_img_aug, 1-3 of 11 intensity operations; its adaptive CutMix not "
                              "reconstructed); baselines/sam/sum_augseg.py",
    "options.augseg_prompt": f"{_P} App. E.1: 'mixed' = AugSeg Mixed-Prompt ('a combination of the point and box "
                             "prompts', interactive prompts 'for both teacher and student networks based on SAM "
                             "pseudo-labels'); 'box' = AugSeg Box-Prompt ('exclusively employs box prompts, "
                             "applicable solely in single prompt scenarios'); 'grid' = AugSeg Uniform Point-Prompt "
                             "('a regular grid of points as prompts', consistency by output token)",
    "options.augseg_consistency": f"{_P} App. E.1: 'best' = 'select the most similar prediction to the pseudo-label "
                                  "from each set' (the default); 'multi' = AugSeg Mixed-Prompt (multi-consistency), "
                                  "'corresponding predictions from both sets, as determined by the same output token'",
    "options.augseg_grid_side": f"ours: SAM's automatic-mask grid of 32 points per side ({_P} App. E.1 'akin to the "
                                "automatic mask generation process utilized in SAM'; no size given)",
    "options.augseg_ema": f"{_AUGSEG} exps/zrun_vocs configs net.ema_decay 0.999, train_semi.py "
                          "d = min(1 - 1/(i + 1), ema_decay) after step i",
    "options.augseg_weight": f"{_AUGSEG} config trainer.unsupervised.loss_weight 1.0 (loss = sup_loss + unsup_loss)",
}


def sum_recipes(recipe_cls=Recipe) -> dict:
    """{"sum": ..., "sum_refine": ...}, built with ``recipe_cls``."""
    common = dict(optimizer="adamw", lr=1e-5, weight_decay=0.1, batch_size=40, train_size=1024,
                  focal_weight=20.0, dice_weight=1.0, focal_gamma=2.0, focal_alpha=0.25, dice_smooth=1.0,
                  grad_clip=float("inf"), loss="sum", unlabelled_fraction=0.5)
    sum_ = recipe_cls(
        family="sum", trainable=("image_encoder.", "prompt_encoder.", "mask_decoder."), layer_decay=0.8,
        prompt="points_or_box", num_points=1, iou_weight=1.0, **common,
        options={"stage": "sum", "rounds": 7, "labelled_task": 2, "certainty_threshold": 0.6, **_FILTERS,
                 **_ABLATION_DEFAULTS},
        sources={
            **_SHARED,
            "trainable": f"{_P} App. F.1: fine-tuning the whole SAM is the default (the HQ-SAM-arch variant of "
                         f"{_CODE} trains HQ-SAM's decoder additions only; not reconstructed)",
            "layer_decay": f"{_P} App. B.1 layer-wise lr decay 0.8 as SAM; ours: ViTDet's rule (encoder block i "
                           "gets 0.8^(depth-i), patch and position embeddings 0.8^(depth+1), the rest 1)",
            "prompt": f"{_P} App. B.1: first round a box or a point with equal probability (labelled: from the "
                      "ground truth; unlabelled: from the pseudo-label, the point drawn by certainty, §3.2.2)",
            "num_points": f"{_P} App. B.1: one point (the HQ-SAM-arch code draws 10; paper followed)",
            "iou_weight": f"{_P} App. B.1: IoU-head MSE added with scaling factor 1.0",
            "loss": f"{_P} §3.2.1 Eqs. 1-2: certainty-weighted focal, certainty-filtered Dice on pseudo-labels; the "
                    "standard losses on labelled data (certainty 1)",
            "options.rounds": f"{_P} App. B.1: 7 interactive rounds (first prompt, 5 error-region clicks, one round "
                              "without a new prompt; previous mask logits as input); the HQ-SAM-arch code trains one "
                              "round (paper followed)",
            "options.labelled_task": f"ours: built datasets hold instance (entity) masks; {_P} §3.2.4 task prompt 2 "
                                     "for entity data, 0 for unlabelled data",
            "length": f"{_P} App. B.1: 6,000 iterations of 40 images; pass --steps (the default is one epoch)",
            **_ABLATION_SOURCES,
        })
    refine = recipe_cls(
        family="sum_refine", trainable=("prompt_encoder.", "mask_decoder."), prompt="points", num_points=1,
        labelled_only=True, **common,
        options={"stage": "refine", "refine_min_iou": 0.7, "certainty_threshold": 0.6, **_FILTERS},
        sources={
            **_SHARED,
            "trainable": f"{_P} §3.2.3 / App. D.1: SAM's prompt encoder and mask decoder fine-tuned, image encoder "
                         "frozen",
            "optimizer": f"ours: SUM's AdamW ({_P} gives no optimizer for the module)",
            "lr": f"ours: SUM's 1e-5 ({_P} gives no learning rate for the module)",
            "batch_size": "ours: SUM's 40 images",
            "focal_weight": "ours: SAM's focal:Dice = 20:1 as in SUM (no loss given for the module)",
            "prompt": f"{_P} App. D.2: one click from the ground-truth object makes SAM's pseudo-label (the output "
                      "closest to the ground truth); the module gets it as mask prompt plus its box and the click",
            "labelled_only": f"{_P} App. D.2: trained on the human-annotated data only (here: the labelled share)",
            "options.refine_min_iou": f"{_P} App. D.2: pairs with IoU(pseudo-label, ground truth) < 0.7 excluded",
            "iou_weight": "ours: 0, the module's IoU head is not used for uncertainty maps",
            "length": f"{_P} App. B.2: 4 hours on 8 A100 (no iteration count); pass --steps",
        })
    return {"sum": sum_, "sum_refine": refine}


_RECIPES = sum_recipes()
# the ablation options --recipe-option accepts, with their values
add_recipe(_RECIPES["sum"], {"sum": "sum_vit_b"}, choices=CHOICES)
# the refinement module is a SUM/SAM model with a fine-tuned decoder: its weights load into sum_*
add_recipe(_RECIPES["sum_refine"], {"sum-refine": "sum_refine_vit_b"}, trains="sum")
