"""SAM ViT-B/L/H (Kirillov et al. 2023) through the official ``segment_anything.modeling`` classes."""
from __future__ import annotations

from ..family import ModelFamily, register_family
from .configs import build_sam, get_config
from .predictor import SamFamilyPredictor

# official file names; the 6-hex suffix is the start of the file's MD5 (state_dicts README)
SAM_FILES = {"vit_b": ("sam_vit_b_01ec64.pth", "01ec64d29a2fca3f0661936605ae66f8"),
             "vit_l": ("sam_vit_l_0b3195.pth", "0b3195507c641ddb6910d2bb5adee89c"),
             "vit_h": ("sam_vit_h_4b8939.pth", "4b8939a88964f0f4ff5f5b2642c598a6")}


def build_torch_model(variant: str, config: str | None = None):
    """The bare ``nn.Module`` (random init), e.g. for state_dict checks on the meta device."""
    return build_sam(get_config(variant, config))


class SamAdapter(SamFamilyPredictor):
    """Official SAM: 3 multimask outputs (K = 3) or the single-mask token (K = 1)."""


SAM = register_family(
    ModelFamily("sam", build_torch_model, SamAdapter, files={v: f for v, (f, _) in SAM_FILES.items()},
                published={v: h for v, (_, h) in SAM_FILES.items()}, hash_kind="md5"),
    SAM_FILES, description="SAM {label} (official segment_anything modules)", tags=("sam",),
    verified="keys/shapes = official list; outputs = official Sam + SamPredictor logic (random weights)")
make_sam = SAM.make  # make_sam(variant, checkpoint=None, device="cpu", dtype="float32", config=None, md5=None)
