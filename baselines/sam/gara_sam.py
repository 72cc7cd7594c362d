"""GaRA-SAM (Lee et al., NeurIPS 2025): gated-rank adapters on a frozen SAM image encoder.

No code or weights are published, so this is a reconstruction from the paper's description: each adapter
sits beside a frozen linear layer (here: every encoder block's ``attn.qkv``) and adds a low-rank update
built from rank-1 components, ``sum_i g_i * b_i a_i^T x``, in two rank spaces (lower rank r_L = 16 and
higher rank r_H = 256, as the paper sets them). A learned gating module, fed the image-level mean of the
layer input, first chooses the rank space and then which rank-1 components of that space are active
(hierarchical gating). The paper trains the gates with Gumbel-Sigmoid (temperature 0.5); at inference the
noise-free gate is thresholded at 0.5 (logit > 0). ``B`` factors start at zero, so an untrained GaRA-SAM
equals SAM exactly (tested). Key names of the adapter parameters are ours."""
from __future__ import annotations

from functools import partial

from ..checkpoints import CheckpointError, load_checkpoint, read_state_dict
from ..registry import register_model
from ._compat import require_torch
from .configs import build_sam, get_config, seeded_init
from .predictor import SamFamilyPredictor

RANK_LOW, RANK_HIGH = 16, 256


def _gated_linear_class():
    torch = require_torch()
    nn = torch.nn

    class GatedRankLinear(nn.Linear):
        """A frozen ``nn.Linear`` (same ``weight``/``bias`` keys as SAM) plus a gated-rank adapter."""

        def __init__(self, base: nn.Linear, rank_low: int, rank_high: int):
            super().__init__(base.in_features, base.out_features, bias=base.bias is not None,
                             device=base.weight.device, dtype=base.weight.dtype)
            self.load_state_dict(base.state_dict())
            d_in, d_out = base.in_features, base.out_features
            kw = {"device": base.weight.device, "dtype": base.weight.dtype}
            self.low_a = nn.Parameter(torch.randn(rank_low, d_in, **kw) / d_in ** 0.5)
            self.low_b = nn.Parameter(torch.zeros(d_out, rank_low, **kw))
            self.high_a = nn.Parameter(torch.randn(rank_high, d_in, **kw) / d_in ** 0.5)
            self.high_b = nn.Parameter(torch.zeros(d_out, rank_high, **kw))
            self.gate_space = nn.Linear(d_in, 1, **kw)  # > 0: higher-rank space
            self.gate_low = nn.Linear(d_in, rank_low, **kw)  # which rank-1 components are on
            self.gate_high = nn.Linear(d_in, rank_high, **kw)

        def forward(self, x):
            out = super().forward(x)
            summary = x.reshape(x.shape[0], -1, x.shape[-1]).mean(dim=1)  # (N, d_in): per image (window)
            high = (self.gate_space(summary) > 0).to(x.dtype)  # (N, 1)
            g_low = (self.gate_low(summary) > 0).to(x.dtype) * (1 - high)
            g_high = (self.gate_high(summary) > 0).to(x.dtype) * high
            shape = (x.shape[0],) + (1,) * (x.dim() - 2)
            low = ((x @ self.low_a.T) * g_low.view(*shape, -1)) @ self.low_b.T
            hi = ((x @ self.high_a.T) * g_high.view(*shape, -1)) @ self.high_b.T
            return out + low + hi

    return GatedRankLinear


def build_torch_model(variant: str, config: str | None = None):
    cfg = get_config(variant, config)
    model = build_sam(cfg)
    cls = _gated_linear_class()
    # the tiny test size keeps both rank spaces but shrinks them below the layer width
    r_low, r_high = (RANK_LOW, RANK_HIGH) if config in (None, "full") else (4, 16)
    for blk in model.image_encoder.blocks:
        blk.attn.qkv = cls(blk.attn.qkv, r_low, r_high)
    return model


class GaraSamAdapter(SamFamilyPredictor):
    """SAM outputs (K = 3 multimask / K = 1) with the adapted image encoder."""


def make_gara_sam(variant: str, checkpoint: str | None = None, device: str = "cpu", dtype="float32",
                  config: str | None = None, sam_checkpoint: str | None = None,
                  sha256: str | None = None) -> GaraSamAdapter:
    """``checkpoint``: a full GaRA-SAM state dict (strict). ``sam_checkpoint``: official SAM weights for the
    frozen part, adapters left at their zero-update initialisation (then the model equals SAM)."""
    with seeded_init():
        model = build_torch_model(variant, config)
    sha = ""
    if checkpoint is not None:
        sha = load_checkpoint(model, checkpoint, sha256=sha256)
    elif sam_checkpoint is not None:
        sd = read_state_dict(sam_checkpoint)
        own = model.state_dict()
        missing = sorted(set(sd) - set(own))
        if missing:
            raise CheckpointError(f"{sam_checkpoint}: not a SAM {variant} checkpoint, unexpected keys {missing[:5]}")
        model.load_state_dict(sd, strict=False)
    adapter = GaraSamAdapter(model, device=device, dtype=dtype)
    adapter.checkpoint_sha256 = sha
    return adapter


for _v in ("vit_b", "vit_l"):  # the paper reports ViT-B and ViT-L
    register_model(
        f"gara_sam_{_v}", description=f"GaRA-SAM {_v.upper().replace('_', '-')} (reconstruction; no code released)",
        checkpoint_files=(f"gara_sam_{_v}.pth",), public_weights=False, requires=("torch", "segment_anything"),
        tags=("sam", "gara_sam"), test_kwargs={"config": "tiny"},
        verified=("NOT verified against official code (none published): adapters reconstructed from the paper; "
                  "SAM keys/shapes = official list; untrained model == SAM (tested)"),
    )(partial(make_gara_sam, _v))
