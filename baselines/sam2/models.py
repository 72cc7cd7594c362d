"""SAM 2.1 Hiera T/S/B+/L (Ravi et al. 2024) registered as promptable segmenters (single-image mode)."""
from __future__ import annotations

from functools import partial

from ..registry import register_model
from ..sam.configs import init_model
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


def make_sam2(variant: str, checkpoint: str | None = None, device: str = "cpu", dtype="float32",
              config: str | None = None, sha256: str | None = None) -> Sam2Adapter:
    model, sha = init_model(partial(build_torch_model, variant, config), checkpoint, sha256=sha256)
    adapter = Sam2Adapter(model, device=device, dtype=dtype)
    adapter.checkpoint_sha256 = sha
    return adapter


for _v in SAM2_FILES:
    register_model(
        f"sam2.1_{_v}", description=f"SAM 2.1 {_v.replace('hiera_', 'Hiera-').upper()} (single-image predictor)",
        checkpoint_files=(SAM2_FILES[_v],), requires=("torch",), tags=("sam2",), test_kwargs={"config": "tiny"},
        verified=("keys/shapes = official sam2==1.1.0 lists (t/s/b+/l); outputs = official sam2 modules + "
                  "SAM2ImagePredictor logic on the same random weights when sam2 is importable"),
    )(partial(make_sam2, _v))
