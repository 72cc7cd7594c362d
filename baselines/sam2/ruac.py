"""RUAC (Segment Anything with Robust Uncertainty-Accuracy Correlation; HongyouZhou/ruac): SAM 2.1
Hiera-B+ whose mask decoder replaces the hypernetwork product ``hyper_in @ upscaled`` by a BNDL head
(Bayesian non-negative decision layer, Hu et al. ICLR 2025) with Weibull posteriors over the 32-channel
pixel features and over per-mask-token classifier weights. Mask logits use the analytic expectation;
per-pixel uncertainty is the Bernoulli entropy of the mean foreground probability over 20 Monte-Carlo
samples, divided by ln 2 (range [0, 1]).

What is reconstructed (RUAC's ``BNDL`` class lives in a repository that is not public): the head follows
the public BNDL layer (XYHu122/BNDL ``Proj_Model``) adapted to the call RUAC makes,
``pixel_bndl(pixel_feat [B,H,W,32], mask_tokens [B,K,256])`` -> logits [B,H,W,K] with Weibull parameters
of shapes [B,H,W,32], [B,H,W,1], [B,K,2,32], [B,K,1,32]: z = ReLU(linear_add(x)) is the posterior mean of the
pixel features, one shape per pixel k = softplus(linear_k(z)); weights w = ReLU(linear_add_w(token)) viewed as
(2 classes, 32), one shape per channel k_w = softplus(linear_kw(w over classes)); Weibull scale = mean /
Gamma(1 + 1/k). The 2-class output z.w_c + ReLU(bias_c) becomes a mask logit as the class-1 minus class-0
difference (softmax over two classes = sigmoid of that difference). Key names under
``sam_mask_decoder.pixel_bndl.`` are therefore ours and may differ from the released file."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..contract import ModelArgumentError
from ..family import ModelFamily, register_family
from .heads import MaskDecoder
from .model import get_config
from .predictor import Sam2Predictor
from .ruac_train import RuacSam2

RELEASE_FILE = "model.safetensors"  # HF HongyouZhou/ruac-sam2.1-hiera-bplus
RELEASE_SHA256 = "678dae09c6834504d20e825793d8270f83dbc1c3c2d542ce843247d7154b46e4"
TRAINING_ONLY = ("style_gcn.", "style_attacker.", "deform_attacker.")  # attackers, dropped by RUAC's loader too
MC_SAMPLES = 20


class PixelBNDL(nn.Module):
    """Weibull decision layer over pixel features with weights generated from each mask token."""

    def __init__(self, feat_dim: int = 32, num_classes: int = 2, token_dim: int = 256):
        super().__init__()
        self.num_classes, self.feat_dim = num_classes, feat_dim
        self.linear_add = nn.Linear(feat_dim, feat_dim)
        self.linear_k = nn.Sequential(nn.Linear(feat_dim, 1), nn.Softplus())
        self.linear_add_w = nn.Linear(token_dim, num_classes * feat_dim)
        self.linear_kw = nn.Sequential(nn.Linear(num_classes, 1), nn.Softplus())
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def posteriors(self, pixel_feat: torch.Tensor, tokens: torch.Tensor, factor_z: float = 0.0, factor_w: float = 0.0):
        """Weibull means and shapes: z (B,H,W,C), k (B,H,W,1), w (B,K,2,C), k_w (B,K,1,C)."""
        z = F.relu(self.linear_add(pixel_feat) - factor_z)
        k = self.linear_k(z)
        b, n, _ = tokens.shape
        w = F.relu(self.linear_add_w(tokens).view(b, n, self.num_classes, self.feat_dim) - factor_w)
        k_w = self.linear_kw(w.transpose(-1, -2)).transpose(-1, -2)
        return z, k, w, k_w

    def logits(self, z: torch.Tensor, w: torch.Tensor, factor_w: float = 0.0) -> torch.Tensor:
        """(B, K, H, W) foreground-minus-background logit of features z under token weights w."""
        bias = F.relu(self.bias - factor_w)
        diff = w[:, :, 1] - w[:, :, 0]  # (B, K, C)
        return torch.einsum("bhwc,bkc->bkhw", z, diff) + (bias[1] - bias[0])

    @staticmethod
    def sample(mean: torch.Tensor, shape: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Weibull draw with the given mean and shape k by inversion: scale * (-ln(1 - u))^(1/k) with
        scale = mean / Gamma(1 + 1/k), in log space so a small k cannot overflow Gamma."""
        inv_k = 1 / shape
        return mean * torch.exp(inv_k * torch.log(-torch.log1p(-u)) - torch.lgamma(1 + inv_k))


class BayesianMaskDecoder(MaskDecoder):
    """SAM 2 decoder (transformer, upscaling, IoU head unchanged) with the BNDL pixel head. The hypernetwork
    MLPs stay in the state dict, as in RUAC, but are never called."""

    def __init__(self, dim: int = 256, mc_samples: int = MC_SAMPLES, mc_seed: int = 0, **kw):
        super().__init__(dim, **kw)
        self.pixel_bndl = PixelBNDL(dim // 8, 2, dim)
        self.mc_samples, self.mc_seed = mc_samples, mc_seed

    def mask_logits(self, upscaled: torch.Tensor, mask_tokens_out: torch.Tensor):
        feat = upscaled.permute(0, 2, 3, 1)
        z, k, w, k_w = self.pixel_bndl.posteriors(feat, mask_tokens_out)
        logits = self.pixel_bndl.logits(z, w)
        return logits, self.mc_uncertainty(z, k, w, k_w)

    def mc_uncertainty(self, z, k, w, k_w) -> torch.Tensor:
        """Bernoulli entropy / ln 2 of the mean foreground probability over ``mc_samples`` joint draws of
        pixel features and weights. The generator is re-seeded per call and its draws are shared by every
        prompt of a batch (common random numbers), so results are deterministic and a batch equals the
        loop over its prompts."""
        gen = torch.Generator(device=z.device).manual_seed(self.mc_seed)
        p_mean = torch.zeros(z.shape[0], w.shape[1], *z.shape[1:3], device=z.device)
        for _ in range(self.mc_samples):
            u_z = torch.rand(z.shape[1:], generator=gen, device=z.device)
            u_w = torch.rand(w.shape[1:], generator=gen, device=z.device)
            zs = self.pixel_bndl.sample(z.float(), k.float(), u_z)
            ws = self.pixel_bndl.sample(w.float(), k_w.float(), u_w)
            p_mean += torch.sigmoid(self.pixel_bndl.logits(zs, ws))
        p = p_mean / self.mc_samples
        return (torch.special.entr(p) + torch.special.entr(1 - p)) / math.log(2)


def build_torch_model(variant: str = "hiera_b+", config: str | None = None, mc_samples: int = MC_SAMPLES) -> RuacSam2:
    """SAM 2.1 with the BNDL decoder; ``RuacSam2`` adds only the training forward (``ruac_train``)."""
    if mc_samples < 1:
        raise ModelArgumentError(f"mc_samples must be >= 1, got {mc_samples}")
    cfg = get_config(variant, config)
    return RuacSam2(cfg, decoder=BayesianMaskDecoder(cfg.dim, mc_samples=mc_samples))


class RuacAdapter(Sam2Predictor):
    """SAM 2.1 outputs (K = 3 multimask / K = 1) plus ``uncertainty`` (B, K, H, W) in [0, 1]."""


RUAC = register_family(
    ModelFamily("ruac", build_torch_model, RuacAdapter, files={"hiera_b+": RELEASE_FILE},
                published={"hiera_b+": RELEASE_SHA256}, ignore_prefixes=TRAINING_ONLY, build_options=("mc_samples",)),
    ("hiera_b+",), name="ruac_sam2.1_{variant}", requires=("torch",), tags=("sam2", "ruac", "uncertainty"),
    description="RUAC: SAM 2.1 Hiera-B+ with a Bayesian (BNDL) mask head; per-pixel uncertainty",
    verified=("SAM 2.1 B+ part: keys/shapes = official list and outputs = official sam2 modules (shared code); "
              "BNDL head RECONSTRUCTED from the paper, RUAC's decoder source and the public BNDL layer (RUAC's "
              "BNDL code is not public): its sam_mask_decoder.pixel_bndl.* names and shapes cannot be checked "
              f"against the published model.safetensors (sha256 {RELEASE_SHA256[:12]}... is verified on load)"))


def make_ruac(checkpoint: str | None = None, device: str = "cpu", dtype="float32", config: str | None = None,
              mc_samples: int = MC_SAMPLES, sha256: str | None = None) -> RuacAdapter:
    """``sha256`` defaults to the published hash when the file keeps the release name ``model.safetensors``."""
    return RUAC.make("hiera_b+", checkpoint, device, dtype, config, sha256=sha256, mc_samples=mc_samples)
