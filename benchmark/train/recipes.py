"""Training defaults per model family, each number with the place in the papers or official code it
comes from, so a user can see which settings are published facts and which are our choices."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Optional

from ..errors import UnknownNameError

ALIASES = {"gara-sam": "gara_sam_vit_b", "robustsam": "robustsam_vit_b"}  # CLI names -> recipe model names
OPTION_CHOICES: dict[str, dict] = {}  # recipe family -> {option: its valid values}
MODEL_OF: dict[str, str] = {}  # recipe family -> registry family, where a recipe trains another family's model


@dataclass(frozen=True)
class Recipe:
    """Hyperparameters of one training recipe; ``sources`` says where each comes from."""

    family: str  # "gara_sam", "robustsam" or "ruac"
    trainable: tuple[str, ...]  # a parameter is trained when its name contains one of these
    lr: float
    weight_decay: float
    batch_size: int
    train_size: int  # images and masks resized to train_size x train_size before the model's own resize
    prompt: str  # "points" or "points_or_box"
    num_points: int
    focal_weight: float
    dice_weight: float
    token_weight: float = 0.0  # RobustSAM token consistency (MSE)
    embedding_weight: float = 0.0  # RobustSAM mask-feature consistency (MSE)
    focal_gamma: float = 2.0
    focal_alpha: float = 0.25
    dice_smooth: float = 1e-6
    grad_clip: float = 1.0
    gumbel_tau: float = 0.5  # GaRA-SAM gates only
    paired: bool = False  # RobustSAM: each degraded image comes with its clear image
    optimizer: str = "adam"  # "adam"; "adamw" (SUM; and RUAC, SAM 2's: no decay on biases and LayerNorm weights when lr_groups are set)
    layer_decay: float = 1.0  # layer-wise lr decay over the image encoder's blocks (SAM's rule)
    loss: str = "robustsam"  # "robustsam" (focal + dice + consistency) or "sum" (uncertainty-aware)
    iou_weight: float = 0.0  # SAM's IoU-head MSE
    unlabelled_fraction: float = 0.0  # share of images whose ground truth is withheld (semi-supervised)
    labelled_only: bool = False  # train on the labelled share only
    options: dict = field(default_factory=dict)  # family-specific settings (SUM: rounds, task, filters, theta)
    frozen: tuple[str, ...] = ()  # never trained, even when a trainable part matches (RUAC: unused SAM 2 MLPs)
    lr_groups: tuple[tuple[str, float], ...] = ()  # (name part, lr): first match wins, else lr (optim.py)
    schedule: str = "constant"  # "cosine": each group's lr falls to final_lr_ratio of it over the run; "step" (optim.py)
    final_lr_ratio: float = 0.1
    focal_balanced: bool = False  # Lin et al.'s alpha / 1 - alpha weighting (SAM 2's training loss)
    seg_weight: float = 1.0  # weight of the segmentation loss on the (clean) training images
    adversarial_weight: float = 0.0  # RUAC: weight of the attacked branch (its segmentation + alignment loss)
    alignment_weight: float = 0.0  # RUAC: lambda on the uncertainty-accuracy alignment L_cal_sym
    alignment_l2_weight: float = 1.0  # RUAC: weight of L_cal_sym's mirror term
    adversarial_from_epoch: int = 0  # RUAC curriculum: epochs before this train on clean images only
    sources: dict = field(default_factory=dict, compare=False)

    def identity(self) -> dict:
        d = asdict(self)
        d.pop("sources")
        return json.loads(json.dumps(d))  # tuples as lists, as train.json stores them

    def at_epoch(self, epoch: int) -> "Recipe":
        """The weights in force in ``epoch`` (0-based): before ``adversarial_from_epoch`` the clean
        segmentation loss alone, at weight 1 (RUAC's curriculum)."""
        if epoch >= self.adversarial_from_epoch:
            return self
        return replace(self, seg_weight=1.0, adversarial_weight=0.0)


ROBUSTSAM_MODULES = ("mask_decoder.custom_robust_token", "mask_decoder.robust_mlp", "mask_decoder.custom_token_block",
                     "mask_decoder.fourier_mask_features", "mask_decoder.fourier_first_layer_features",
                     "mask_decoder.fourier_last_layer_features")
GARA_MODULES = (".low_a", ".low_b", ".high_a", ".high_b", ".gate_space.", ".gate_low.", ".gate_high.")

_RS = "RobustSAM (CVPR 2024)"
_RS_CODE = "robustsam/RobustSAM@6f0e2637"
_GARA = "GaRA-SAM (NeurIPS 2025) implementation details"

ROBUSTSAM = Recipe(
    family="robustsam", trainable=ROBUSTSAM_MODULES, lr=1e-4, weight_decay=1e-5, batch_size=8, train_size=512,
    prompt="points", num_points=3, focal_weight=20.0, dice_weight=1.0, token_weight=2.0, embedding_weight=100.0,
    paired=True,
    sources={
        "trainable": f"{_RS} §4.2 'we keep the pretrained SAM parameters frozen, focusing only on optimizing the "
                     f"proposed modules' (AMFG, AOTG, robust token); {_RS_CODE} train_ddp.py also updates SAM's mask "
                     "decoder (it optimises every parameter outside the no_grad encoders)",
        "lr": f"{_RS_CODE} train_ddp.py --lr 1e-4, constant (its StepLR is never stepped); the paper §4.2 says 5e-4",
        "weight_decay": f"{_RS_CODE} train_ddp.py Adam(weight_decay=1e-5)",
        "batch_size": f"{_RS} Table 1 (batch size 8 on 8 GPUs); the code default is 2 per GPU",
        "train_size": f"{_RS_CODE} dataset.py cv2.resize to 512x512",
        "prompt": f"{_RS} §4.2 'We train RobustSAM using point-based prompts'; {_RS_CODE} dataset.py "
                  "--num_points 3 positive points drawn without replacement from the largest mask",
        "focal_weight": f"{_RS_CODE} engine.py weight_focal=20, FocalLoss(gamma=2, alpha=0.25) on the degraded-branch "
                        "logits vs ground truth; paper Eq. 4 (lambda_3 not given there)",
        "dice_weight": f"{_RS_CODE} engine.py weight_dice=1, DiceLoss(smooth=1e-6)",
        "token_weight": f"{_RS_CODE} engine.py weight_token=2: MSE of output tokens degraded vs clear (Eq. 3 L_TC)",
        "embedding_weight": f"{_RS_CODE} engine.py weight_embedding=100: MSE of robust mask features degraded vs "
                            "clear (Eq. 3 L_MFC)",
        "grad_clip": f"{_RS_CODE} engine.py clip_grad_norm_(1.0)",
        "paired": f"{_RS} Fig. 2 / {_RS_CODE} dataset.py: a clear image and one degraded version drawn uniformly "
                  "from its 16 folders (clear included)",
    })

GARA_SAM = Recipe(
    family="gara_sam", trainable=GARA_MODULES, lr=1e-4, weight_decay=1e-5, batch_size=8, train_size=512,
    prompt="points_or_box", num_points=3, focal_weight=1.0, dice_weight=1.0,
    sources={
        "trainable": f"{_GARA}: adapters and gating modules trained ('The gating modules are trained with the same "
                     "learning rate'); SAM frozen",
        "lr": f"{_GARA}: Adam, 1e-4 for ViT-B and 1e-5 for ViT-L",
        "weight_decay": f"{_GARA}: weight decay 1e-5",
        "batch_size": f"{_GARA}: input batches of size 8",
        "train_size": "ours: RobustSAM's 512 (GaRA-SAM trains on Robust-Seg 'following RobustSAM'; size not given)",
        "prompt": f"{_GARA}: 'using both point and box prompts'; ours: per sample a tight box or points with "
                  "probability 1/2 each",
        "num_points": "ours: RobustSAM's 3 positive points (GaRA-SAM gives no count)",
        "focal_weight": f"{_GARA}: L_seg = L_dice + L_focal 'following RobustSAM' (weights 1 and 1 as written; "
                        "focal with RobustSAM's gamma=2, alpha=0.25)",
        "dice_weight": f"{_GARA}: L_seg = L_dice + L_focal",
        "gumbel_tau": f"{_GARA}: Gumbel-Sigmoid temperature 0.5 (straight-through hard gates are ours, so training "
                      "and inference gate alike)",
        "grad_clip": f"ours: RobustSAM's clip_grad_norm_(1.0) ({_RS_CODE} engine.py)",
    })

RECIPES = {"gara_sam": GARA_SAM, "robustsam": ROBUSTSAM}  # the families below register with add_recipe
LR_BY_VARIANT = {"gara_sam_vit_l": 1e-5}  # GaRA-SAM implementation details: 1e-5 for ViT-L
FAMILY_OF: dict[str, str] = {}  # registry names whose family is not their "<family>_vit_" prefix


def add_recipe(recipe: Recipe, names: dict[str, str], *, trains: Optional[str] = None,
               choices: Optional[dict] = None) -> None:
    """Register ``recipe`` for ``names`` ({CLI alias or registry name: registry name}); ``trains``: the
    registry family its weights load into when it is not the recipe's own (``sum_refine`` -> ``sum``);
    ``choices``: {option: valid values} that ``--recipe-option`` checks."""
    RECIPES[recipe.family] = recipe
    for alias, name in names.items():
        if alias != name:
            ALIASES[alias] = name
        FAMILY_OF[name] = recipe.family
    if trains:
        MODEL_OF[recipe.family] = trains
    if choices:
        OPTION_CHOICES[recipe.family] = dict(choices)


def resolve_name(model_name: str) -> str:
    """Registry name for a CLI alias (``gara-sam`` -> ``gara_sam_vit_b``); registry names pass through."""
    return ALIASES.get(model_name, model_name)


def registry_name(name: str) -> str:
    """The registry model a recipe model name trains (``sum_refine_vit_b`` -> ``sum_vit_b``)."""
    for family, model_family in MODEL_OF.items():
        if name.startswith(family + "_vit_"):
            return model_family + name[len(family):]
    return name
#: ranges of the numbers ``--recipe-option`` may set, beyond the rule for all (finite, >= 0: no setting of any
#: recipe is negative): these must be > 0, these at most 1, and these at most a bound (a huge batch or size
#: would exhaust memory rather than fail with a line)
POSITIVE = {"lr", "batch_size", "train_size", "num_points", "gumbel_tau", "layer_decay", "rounds", "augseg_grid_side"}
AT_MOST_ONE = {"focal_alpha", "unlabelled_fraction", "final_lr_ratio", "layer_decay", "certainty_threshold",
               "min_pred_iou", "min_stability", "max_area", "augseg_ema"}
AT_MOST = {"batch_size": 1024, "train_size": 4096, "num_points": 1024, "rounds": 100, "augseg_grid_side": 1024}


def _range_problem(key: str, value) -> Optional[str]:
    """What is wrong with number ``value`` for setting ``key``, or None."""
    import math

    if not math.isfinite(value) or value < 0:
        return "a finite number >= 0"
    if key in POSITIVE and value <= 0:
        return "> 0"
    if key in AT_MOST_ONE and value > 1:
        return "at most 1"
    if key in AT_MOST and value > AT_MOST[key]:
        return f"at most {AT_MOST[key]}"
    return None


def override_recipe(recipe: Recipe, overrides: dict) -> Recipe:
    """``recipe`` with fields, or entries of its ``options``, replaced by name; an unknown name, a value of
    another type, a number out of range (``_range_problem``), or a value outside an option's choices
    (``OPTION_CHOICES``) is a UsageError."""
    from ..errors import UsageError

    fields = {k: v for k, v in asdict(recipe).items() if k not in ("family", "sources", "options")}
    # any dataclass of settings works (ECOCSeg's recipe has no family and no options)
    options, choices = dict(getattr(recipe, "options", {})), OPTION_CHOICES.get(getattr(recipe, "family", ""), {})
    for key, value in overrides.items():
        if key not in fields and (key not in options or key == "stage"):  # the stage is the recipe itself
            raise UsageError(f"recipe override {key!r}: not a recipe field; valid: {', '.join(sorted(fields))}"
                             + (f"; options: {', '.join(sorted(set(options) - {'stage'}))}" if options else ""))
        want = type(fields[key] if key in fields else options[key])
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) if want is float else \
            isinstance(value, want) and (want is not int or not isinstance(value, bool))
        if not ok:
            raise UsageError(f"recipe override {key!r}: {value!r} is not a {want.__name__}")
        if want in (int, float) and (problem := _range_problem(key, value)):
            raise UsageError(f"recipe option {key}={value!r}: must be {problem}")
        if key in choices and value not in choices[key]:
            raise UsageError(f"recipe option {key}={value}: valid: {', '.join(choices[key])}")
        if key in options:
            options[key] = float(value) if want is float else value
    top = {k: (float(v) if type(fields[k]) is float else v) for k, v in overrides.items() if k in fields}
    return replace(recipe, **top, **({"options": options} if hasattr(recipe, "options") else {}))


def recipe_for(model_name: str) -> Recipe:
    """The recipe of a registry model name (``gara_sam_vit_b``, ``robustsam_vit_l``, ...)."""
    name = resolve_name(model_name)
    if name in FAMILY_OF:
        return RECIPES[FAMILY_OF[name]]
    for family, recipe in sorted(RECIPES.items(), key=lambda kv: -len(kv[0])):  # sum_refine before sum
        if name.startswith(family + "_vit_"):
            return replace(recipe, lr=LR_BY_VARIANT.get(name, recipe.lr))
    raise UnknownNameError(f"no training recipe for model {model_name!r}; trainable: "
                   f"{', '.join(sorted(ALIASES))} or gara_sam_vit_{{b,l}}, robustsam_vit_{{b,l,h}}, "
                   "sum_vit_{b,l,h}, sum_refine_vit_{b,l,h}, "
                   f"{', '.join(sorted(FAMILY_OF))}")


from . import sum_recipe  # noqa: E402,F401  (registers SUM's two recipes)
from . import ruac_recipe  # noqa: E402,F401  (registers the RUAC recipe)
from . import sum_hq_recipe  # noqa: E402,F401  (registers SUM in HQ-SAM's architecture)
