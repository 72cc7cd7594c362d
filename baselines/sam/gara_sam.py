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

import contextlib
from typing import Optional

import torch
from torch import nn

from ..checkpoints import CheckpointError, read_state_dict
from ..contract import ModelArgumentError
from ..family import ModelFamily, register_family
from ..training import TrainingBatch, TrainingOutputs
from .configs import build_sam, get_config
from .predictor import SamFamilyPredictor
from .training import TrainableSam

RANK_LOW, RANK_HIGH = 16, 256


def gumbel_gate(logits: torch.Tensor, tau: float, generator: Optional[torch.Generator]) -> torch.Tensor:
    """Hard 0/1 gate in the forward pass, Gumbel-Sigmoid(tau) gradient in the backward pass. Without a
    generator no noise is drawn: the forward then equals the inference gate ``logit > 0``."""
    z = logits.float()
    if generator is not None:
        u = torch.rand(z.shape, generator=generator, device=z.device).clamp(1e-6, 1 - 1e-6)
        z = z + torch.log(u) - torch.log1p(-u)  # difference of two Gumbels = logistic noise
    soft = torch.sigmoid(z / tau)
    return ((soft > 0.5).float() + soft - soft.detach()).to(logits.dtype)


class GatedRankLinear(nn.Linear):
    """A frozen ``nn.Linear`` (same ``weight``/``bias`` keys as SAM) plus a gated-rank adapter. Inference
    gates are ``logit > 0``; inside ``gumbel_gates`` they are the training's Gumbel-Sigmoid gates."""

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
        self.gumbel: Optional[tuple[float, Optional[torch.Generator]]] = None  # (tau, generator) while training

    def gate(self, logits: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        if self.gumbel is None:
            return (logits > 0).to(dtype)
        return gumbel_gate(logits, *self.gumbel)

    def forward(self, x):
        out = super().forward(x)
        summary = x.reshape(x.shape[0], -1, x.shape[-1]).mean(dim=1)  # (N, d_in): per image (window)
        high = self.gate(self.gate_space(summary), x.dtype)  # (N, 1)
        g_low = self.gate(self.gate_low(summary), x.dtype) * (1 - high)
        g_high = self.gate(self.gate_high(summary), x.dtype) * high
        shape = (x.shape[0],) + (1,) * (x.dim() - 2)
        low = ((x @ self.low_a.T) * g_low.view(*shape, -1).to(x.dtype)) @ self.low_b.T
        hi = ((x @ self.high_a.T) * g_high.view(*shape, -1).to(x.dtype)) @ self.high_b.T
        return out + low + hi


@contextlib.contextmanager
def gumbel_gates(model: nn.Module, tau: float, generator: Optional[torch.Generator]):
    """Every gated-rank layer of ``model`` uses the training gates for the duration of the block."""
    layers = [m for m in model.modules() if isinstance(m, GatedRankLinear)]
    if not layers:
        raise TypeError(f"{type(model).__name__} has no gated-rank layers: not a GaRA-SAM model")
    for m in layers:
        m.gumbel = (tau, generator)
    try:
        yield
    finally:
        for m in layers:
            m.gumbel = None


class GaraSam(TrainableSam):
    """``Sam`` whose encoder's ``attn.qkv`` layers are gated-rank layers. Training: the gates are
    Gumbel-Sigmoid with temperature tau and a straight-through hard decision, so the forward uses the same
    0/1 gates inference uses while gradients reach the gate layers."""

    def training_outputs(self, batch: TrainingBatch, *, generator: Optional[torch.Generator] = None,
                         gumbel_tau: float = 0.5) -> TrainingOutputs:
        x = self.training_input(batch.images)
        with gumbel_gates(self, gumbel_tau, generator):
            emb = self.image_encoder(x)
        pe = self.prompt_encoder.get_dense_pe()
        logits = []
        for i in range(len(batch.images)):
            sparse, dense = self.training_prompt(batch.points[i], batch.boxes[i], batch.train_size)
            low, _ = self.mask_decoder(image_embeddings=emb[i:i + 1], image_pe=pe, sparse_prompt_embeddings=sparse,
                                       dense_prompt_embeddings=dense, multimask_output=False)
            logits.append(self.to_train_size(low, batch.train_size))
        return TrainingOutputs(torch.cat(logits))


def build_torch_model(variant: str, config: str | None = None) -> GaraSam:
    model = build_sam(get_config(variant, config), sam_cls=GaraSam)
    # the tiny test size keeps both rank spaces but shrinks them below the layer width
    r_low, r_high = (RANK_LOW, RANK_HIGH) if config in (None, "full") else (4, 16)
    for blk in model.image_encoder.blocks:
        blk.attn.qkv = GatedRankLinear(blk.attn.qkv, r_low, r_high)
    return model


class GaraSamAdapter(SamFamilyPredictor):
    """SAM outputs (K = 3 multimask / K = 1) with the adapted image encoder."""


GARA_SAM = ModelFamily("gara_sam", build_torch_model, GaraSamAdapter,
                       files={v: f"gara_sam_{v}.pth" for v in ("vit_b", "vit_l")})


def make_gara_sam(variant: str, checkpoint: str | None = None, device: str = "cpu", dtype="float32",
                  config: str | None = None, sam_checkpoint: str | None = None,
                  sha256: str | None = None) -> GaraSamAdapter:
    """``checkpoint``: a full GaRA-SAM state dict (strict). ``sam_checkpoint``: official SAM weights for the
    frozen part, adapters left at their zero-update initialisation (then the model equals SAM)."""
    if sam_checkpoint is not None and not (isinstance(sam_checkpoint, str) and sam_checkpoint):
        raise ModelArgumentError(f"model 'gara_sam_{variant}': option sam_checkpoint must be a file path, "
                                 f"got {sam_checkpoint!r}")
    adapter = GARA_SAM.make(variant, checkpoint, device, dtype, config, sha256=sha256)
    if checkpoint is None and sam_checkpoint is not None:
        sd = read_state_dict(sam_checkpoint)
        missing = sorted(set(sd) - set(adapter.model.state_dict()))
        if missing:
            raise CheckpointError(f"{sam_checkpoint}: not a SAM {variant} checkpoint, unexpected keys {missing[:5]}")
        adapter.model.load_state_dict(sd, strict=False)
    return adapter


register_family(  # the paper reports ViT-B and ViT-L
    GARA_SAM, ("vit_b", "vit_l"), description="GaRA-SAM {label} (reconstruction; no code released)",
    factory=make_gara_sam, public_weights=False, tags=("sam", "gara_sam"),
    verified=("NOT verified against official code (none published): adapters reconstructed from the paper; "
              "SAM keys/shapes = official list; untrained model == SAM (tested)"))
