"""SAM ViT-B/L/H (Kirillov et al. 2023) through the official ``segment_anything.modeling`` classes."""
from __future__ import annotations

from functools import partial

from ..registry import register_model
from .configs import build_sam, get_config, init_model
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


def make_sam(variant: str, checkpoint: str | None = None, device: str = "cpu", dtype="float32",
             config: str | None = None, md5: str | None = None) -> SamAdapter:
    """``md5`` defaults to the official hash when the file keeps its official name."""
    name, official_md5 = SAM_FILES[variant]
    if md5 is None and checkpoint is not None and checkpoint.endswith(name):
        md5 = official_md5
    model, sha = init_model(partial(build_torch_model, variant, config), checkpoint, md5=md5)
    adapter = SamAdapter(model, device=device, dtype=dtype)
    adapter.checkpoint_sha256 = sha
    return adapter


for _v in ("vit_b", "vit_l", "vit_h"):
    register_model(
        f"sam_{_v}", description=f"SAM {_v.upper().replace('_', '-')} (official segment_anything modules)",
        checkpoint_files=(SAM_FILES[_v][0],), requires=("torch", "segment_anything"), tags=("sam",),
        test_kwargs={"config": "tiny"},
        verified="keys/shapes = official list; outputs = official Sam + SamPredictor logic (random weights)",
    )(partial(make_sam, _v))
