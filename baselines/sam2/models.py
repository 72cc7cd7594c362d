"""SAM 2.1 Hiera T/S/B+/L (Ravi et al. 2024) registered as promptable segmenters (single-image mode)."""
from __future__ import annotations

from ..family import ModelFamily, register_family
from .model import Sam2Image, get_config
from .predictor import Sam2Predictor

# official names (checkpoints/download_ckpts.sh); Meta publishes no hashes; weights sit under "model"
SAM2_FILES = {"hiera_t": "sam2.1_hiera_tiny.pt", "hiera_s": "sam2.1_hiera_small.pt",
              "hiera_b+": "sam2.1_hiera_base_plus.pt", "hiera_l": "sam2.1_hiera_large.pt"}


def build_torch_model(variant: str, config: str | None = None) -> Sam2Image:
    """The bare ``nn.Module`` (random init), e.g. for state_dict checks on the meta device."""
    return Sam2Image(get_config(variant, config))


class Sam2Adapter(Sam2Predictor):
    """SAM 2.1: 3 multimask outputs (K = 3) or the stability-checked single mask (K = 1)."""


SAM2 = register_family(
    ModelFamily("sam2.1", build_torch_model, Sam2Adapter, files=SAM2_FILES), SAM2_FILES,
    label=lambda v: v.replace("hiera_", "Hiera-").upper(),
    description="SAM 2.1 {label} (single-image predictor)", requires=("torch",), tags=("sam2",),
    verified=("keys/shapes = official sam2==1.1.0 lists (t/s/b+/l); outputs = official sam2 modules + "
              "SAM2ImagePredictor logic on the same random weights when sam2 is importable"))
make_sam2 = SAM2.make  # make_sam2(variant, checkpoint=None, device="cpu", dtype="float32", config=None, sha256=None)
