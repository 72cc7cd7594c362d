"""RobustSAM (Chen et al., CVPR 2024; robustsam/RobustSAM @ 6f0e2637): SAM plus the Anti-Degradation
Mask Feature Generation (AMFG: DNC = instance/batch-norm selective conv + channel attention, and FGM =
a 1x1 conv on the Fourier magnitude) applied to the early ViT features, the final image embedding and the
decoder's mask features, and the Anti-Degradation Output Token Generation (AOTG: instance-normalised robust
token through a small MLP). Inference uses the robust path (``clear=False``) and single-mask output, as the
official eval.py does; the official multimask path is not usable (it yields 15 masks for 3 scores), so
the model returns K = 1 always."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..family import ModelFamily, register_family
from ..restore.urie import SelectiveConv  # RobustSAM's DNC reuses URIE's selective conv (same names and maths)
from ..training import TrainingBatch, TrainingOutputs
from .configs import build_sam, get_config, official, run_two_way
from .predictor import IntermFeaturesPredictor
from .training import TrainableSam

LayerNorm2d, MLP = official.common.LayerNorm2d, official.mask_decoder.MLP

ROBUST_FILES = {"vit_b": "robustsam_checkpoint_b.pth", "vit_l": "robustsam_checkpoint_l.pth",
                "vit_h": "robustsam_checkpoint_h.pth"}


class SKDown(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.maxpool_conv = nn.Sequential(SelectiveConv(channels, channels))

    def forward(self, x):
        return self.maxpool_conv(x)

class CABlock(nn.Module):
    """Squeeze-and-excitation channel attention."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.excitation = nn.Sequential(nn.Linear(channels, channels // reduction), nn.ReLU(inplace=True),
                                        nn.Linear(channels // reduction, channels), nn.Sigmoid())

    def forward(self, x):
        return x * self.excitation(x.mean(dim=(2, 3)))[:, :, None, None]

class DNCBlock(nn.Module):
    """Degradation-invariant normalisation: [x, selective-conv(x)] reweighted per channel (2C out)."""

    def __init__(self, channels: int):
        super().__init__()
        self.channel_attention = CABlock(2 * channels)
        self.SEMBlock = SKDown(channels)

    def forward(self, x):
        return self.channel_attention(torch.cat([x, self.SEMBlock(x)], dim=1))

class FGMBlock(nn.Module):
    """Fourier degradation suppression: a 1x1 conv on the amplitude spectrum, phase kept."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv_layer = nn.Conv2d(2 * channels, 2 * channels, kernel_size=1)

    def forward(self, x):
        spec = torch.fft.fft2(x.float(), dim=(-2, -1))
        mag = self.conv_layer(spec.abs().to(x.dtype)).float()
        phase = spec.angle()
        out = torch.fft.ifft2(torch.complex(mag * torch.cos(phase), mag * torch.sin(phase)), dim=(-2, -1))
        return out.real.to(x.dtype)

class AMFG(nn.Module):
    """DNC -> FGM -> 3x3 conv back to C channels -> the block's resampling head."""

    def __init__(self, channels: int, head: nn.Module, head_name: str):
        super().__init__()
        self.dnc_block_combined = DNCBlock(channels)
        self.fgm_block = FGMBlock(channels)
        self.conv_layer = nn.Conv2d(2 * channels, channels, kernel_size=3, padding=1)
        self.head_name = head_name
        self.add_module(head_name, head)

    def forward(self, x):
        x = self.conv_layer(self.fgm_block(self.dnc_block_combined(x)))
        return getattr(self, self.head_name)(x)

def up_head(cin: int, d: int):
    return nn.Sequential(nn.ConvTranspose2d(cin, d, kernel_size=2, stride=2), LayerNorm2d(d), nn.GELU(),
                         nn.ConvTranspose2d(d, d // 8, kernel_size=2, stride=2))

def mask_head(d: int):
    return nn.Sequential(nn.Conv2d(d // 8, d // 4, 3, 1, 1), LayerNorm2d(d // 4), nn.GELU(),
                         nn.Conv2d(d // 4, d // 8, 3, 1, 1))

class TokenBlock(nn.Module):
    """AOTG: instance-normalise the robust token twice (as the official code does), then an MLP on its
    first ``d / 4`` features; the official view(4, -1) on a single prompt makes mask 0 depend on
    exactly those features, which is what is computed here per prompt, batched."""

    def __init__(self, num_tokens: int, mlp_dim: int):
        super().__init__()
        self.mlp_dim = mlp_dim
        self.mlp = nn.Sequential(nn.Linear(mlp_dim, mlp_dim), nn.ReLU(), nn.Linear(mlp_dim, mlp_dim * num_tokens))

    def forward(self, token):
        for _ in range(2):
            token = F.layer_norm(token, token.shape[-1:], eps=1e-5)
        return self.mlp(token[:, : self.mlp_dim])


class RobustMaskDecoder(official.MaskDecoder):
    def __init__(self, *, vit_dim: int, **kw):
        super().__init__(**kw)
        d, n = self.transformer_dim, self.num_mask_tokens
        self.custom_robust_token = nn.Embedding(n, d)
        self.robust_mlp = MLP(d, d, d // 8, 3)
        self.fourier_mask_features = AMFG(d // 8, mask_head(d), "downsample_layer")
        self.fourier_first_layer_features = AMFG(vit_dim, up_head(vit_dim, d), "upsample_layer")
        self.fourier_last_layer_features = AMFG(d, up_head(d, d), "upsample_layer")
        self.custom_token_block = TokenBlock(n, d // n)

    def decode_branch(self, image_embeddings, interm, image_pe, sparse, dense, clear: bool):
        """The official ``MaskDecoder.forward``: (robust single-mask logits (B, 1, h, w), or None on
        the clear branch; transformer tokens (B, T, d); fused mask features (B, d/8, 4h, 4w)).
        ``clear=True`` is the branch with SAM's own output tokens (training's consistency losses)."""
        early = interm.permute(0, 3, 1, 2)
        first, last = self.fourier_first_layer_features, self.fourier_last_layer_features
        if clear:
            robust = first.upsample_layer(early) + last.upsample_layer(image_embeddings)
            tokens = torch.cat([self.iou_token.weight, self.mask_tokens.weight], dim=0)
        else:
            robust = first(early) + last(image_embeddings)
            tokens = torch.cat([self.iou_token.weight, self.custom_robust_token.weight], dim=0)
        tokens = torch.cat((tokens.unsqueeze(0).expand(sparse.size(0), -1, -1), sparse), dim=1)
        hs, up = run_two_way(self, image_embeddings, image_pe, tokens, dense)
        maskf = self.fourier_mask_features
        features = (maskf.downsample_layer(up) if clear else maskf(up)) + robust.repeat(up.shape[0], 1, 1, 1)
        if clear:
            return None, hs, features
        hyper = self.robust_mlp(self.custom_token_block(hs[:, 1, :]))[:, None]  # mask 0 of the official path
        b, c, h, w = features.shape
        return (hyper @ features.view(b, c, h * w)).view(b, 1, h, w), hs, features

    def forward_robust(self, image_embeddings, interm, image_pe, sparse, dense):
        """Robust-token logits (B, 1, h, w) and IoU score (B, 1) of the official ``clear=False`` path."""
        logits, hs, _ = self.decode_branch(image_embeddings, interm, image_pe, sparse, dense, clear=False)
        return logits, self.iou_prediction_head(hs[:, 0, :])[:, :1]

    def training_branch(self, image_embeddings, interm, image_pe, sparse, dense, clear: bool):
        """``decode_branch`` with the output tokens the consistency losses compare: (single-mask logits or
        None on the clear branch, mask tokens (B, 4, d), fused mask features)."""
        logits, hs, features = self.decode_branch(image_embeddings, interm, image_pe, sparse, dense, clear)
        return logits, hs[:, 1:1 + self.num_mask_tokens, :], features


class RobustSam(TrainableSam):
    """``Sam`` with the RobustSAM decoder. Training: the degraded branch is the official ``clear=False`` path
    (robust token, AOTG, AMFG), the clear branch the official ``clear=True`` path (SAM's output tokens, AMFG
    heads only); both return the output tokens and fused mask features the consistency losses compare."""

    def training_outputs(self, batch: TrainingBatch, *, generator=None, gumbel_tau: float = 0.5) -> TrainingOutputs:
        if batch.clear is None:
            raise ValueError("RobustSAM trains on paired images: the batch needs its clear images")
        n, size = len(batch.images), batch.train_size
        x = self.training_input(list(batch.images) + list(batch.clear))
        with torch.no_grad():  # frozen SAM encoder, as the official Sam.forward runs it
            emb, interm = self.image_encoder.forward_interm(x)
        pe = self.prompt_encoder.get_dense_pe()
        dec = self.mask_decoder
        logits, tok, ctok, feat, cfeat = [], [], [], [], []
        for i in range(n):  # one image per decoder call, as the official loop (BatchNorm sees batch 1)
            sparse, dense = self.training_prompt(batch.points[i], batch.boxes[i], size)
            low, t, f = dec.training_branch(emb[i:i + 1], interm[i:i + 1], pe, sparse, dense, clear=False)
            _, ct, cf = dec.training_branch(emb[n + i:n + i + 1], interm[n + i:n + i + 1], pe, sparse, dense,
                                            clear=True)
            logits.append(self.to_train_size(low, size))
            tok.append(t), ctok.append(ct), feat.append(f), cfeat.append(cf)
        return TrainingOutputs(torch.cat(logits), torch.cat(tok), torch.cat(ctok), torch.cat(feat), torch.cat(cfeat))


def build_torch_model(variant: str, config: str | None = None) -> RobustSam:
    cfg = get_config(variant, config)
    return build_sam(cfg, decoder_cls=RobustMaskDecoder, sam_cls=RobustSam, vit_dim=cfg.embed_dim)


class RobustSamAdapter(IntermFeaturesPredictor):
    def decode(self, features, sparse, dense, multimask):
        logits, score = self.model.mask_decoder.forward_robust(
            features["embeddings"], features["interm"], self.model.prompt_encoder.get_dense_pe(), sparse, dense)
        return logits, score, None


ROBUSTSAM = register_family(
    ModelFamily("robustsam", build_torch_model, RobustSamAdapter, files=ROBUST_FILES),
    ROBUST_FILES, description="RobustSAM {label}, robust token (K = 1)", tags=("sam", "robustsam"),
    verified=("keys/shapes = official lists (b/l/h); forward re-implemented from robustsam/RobustSAM@6f0e2637 "
              "and checked against that code on random weights when it is importable"))
make_robustsam = ROBUSTSAM.make  # make_robustsam(variant, checkpoint=None, device=, dtype=, config=None, sha256=None)
