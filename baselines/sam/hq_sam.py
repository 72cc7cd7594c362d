"""HQ-SAM (Ke et al. 2023, SysCV/sam-hq): SAM plus an HQ output token whose mask is predicted on
HQ features fused from the early ViT layer and the decoder's mask features. Evaluated, as HQ-SAM reports
its numbers, from the HQ token alone (``hq_token_only=True``): one mask per prompt (K = 1), scored by SAM's
IoU head for the mask token the official decoder pairs it with."""
from __future__ import annotations

import torch
from torch import nn

from ..family import ModelFamily, register_family
from .configs import build_sam, get_config, official, run_two_way
from .predictor import IntermFeaturesPredictor

LayerNorm2d, MLP = official.common.LayerNorm2d, official.mask_decoder.MLP

HQ_FILES = {"vit_b": "sam_hq_vit_b.pth", "vit_l": "sam_hq_vit_l.pth", "vit_h": "sam_hq_vit_h.pth"}
HQ_MD5 = {"vit_b": "c6b8953247bcfdc8bb8ef91e36a6cacc", "vit_l": "08947267966e4264fb39523eccc33f86",
          "vit_h": "3560f6b6a5a6edacd814a1325c39640a"}  # third-party (IOPaint); SysCV publishes none


class MaskDecoderHQ(official.MaskDecoder):
    """Official MaskDecoder + ``hf_token``, ``hf_mlp``, ``compress_vit_feat``, ``embedding_encoder``,
    ``embedding_maskfeature`` (names and shapes of sam-hq's MaskDecoderHQ)."""

    def __init__(self, *, vit_dim: int, **kw):
        super().__init__(**kw)
        d = self.transformer_dim
        self.hf_token = nn.Embedding(1, d)
        self.hf_mlp = MLP(d, d, d // 8, 3)
        self.compress_vit_feat = nn.Sequential(
            nn.ConvTranspose2d(vit_dim, d, kernel_size=2, stride=2), LayerNorm2d(d), nn.GELU(),
            nn.ConvTranspose2d(d, d // 8, kernel_size=2, stride=2))
        self.embedding_encoder = nn.Sequential(
            nn.ConvTranspose2d(d, d // 4, kernel_size=2, stride=2), LayerNorm2d(d // 4), nn.GELU(),
            nn.ConvTranspose2d(d // 4, d // 8, kernel_size=2, stride=2))
        self.embedding_maskfeature = nn.Sequential(
            nn.Conv2d(d // 8, d // 4, 3, 1, 1), LayerNorm2d(d // 4), nn.GELU(),
            nn.Conv2d(d // 4, d // 8, 3, 1, 1))

    def output_tokens(self, task=None) -> torch.Tensor:
        """The IoU, SAM mask and HQ output tokens (SUM on HQ-SAM adds its task tokens to them)."""
        return torch.cat([self.iou_token.weight, self.mask_tokens.weight, self.hf_token.weight], dim=0)

    def forward_hq(self, image_embeddings, interm, image_pe, sparse, dense, multimask: bool, task=None):
        """HQ-token logits (B, 1, h, w) and the paired SAM IoU score (B, 1), as sam-hq with
        ``hq_token_only=True``: multimask pairs it with the best of SAM's 3 tokens' scores."""
        hq_features = self.embedding_encoder(image_embeddings) + self.compress_vit_feat(interm.permute(0, 3, 1, 2))
        tokens = self.output_tokens(task)
        tokens = tokens.unsqueeze(0).expand(sparse.size(0), -1, -1)
        tokens = torch.cat((tokens, sparse), dim=1)
        hs, up_sam = run_two_way(self, image_embeddings, image_pe, tokens, dense)
        iou = self.iou_prediction_head(hs[:, 0, :])
        hq_token_out = hs[:, 1 + self.num_mask_tokens, :]
        up_hq = self.embedding_maskfeature(up_sam) + hq_features.repeat(up_sam.shape[0], 1, 1, 1)
        hyper = self.hf_mlp(hq_token_out)[:, None]  # (B, 1, C/8)
        b, c, h, w = up_hq.shape
        logits = (hyper @ up_hq.view(b, c, h * w)).view(b, 1, h, w)
        score = iou[:, 1:].max(dim=1, keepdim=True).values if multimask else iou[:, :1]
        return logits, score


def build_torch_model(variant: str, config: str | None = None):
    cfg = get_config(variant, config)
    return build_sam(cfg, decoder_cls=MaskDecoderHQ, vit_dim=cfg.embed_dim)


class HQSamAdapter(IntermFeaturesPredictor):
    def decode(self, features, sparse, dense, multimask):
        logits, score = self.model.mask_decoder.forward_hq(
            features["embeddings"], features["interm"], self.model.prompt_encoder.get_dense_pe(), sparse, dense,
            multimask)
        return logits, score, None


HQ_SAM = register_family(
    ModelFamily("hq_sam", build_torch_model, HQSamAdapter, files=HQ_FILES, published=HQ_MD5, hash_kind="md5"),
    HQ_FILES, description="HQ-SAM {label}, HQ output token only (K = 1)", tags=("sam", "hq_sam"),
    verified=("vit_b keys/shapes = official list (l/h: SAM list + the same 25 HQ tensors scaled, no official "
              "list); outputs = official sam-hq MaskDecoderHQ (hq_token_only=True) on the same random weights "
              "(SysCV/sam-hq@fb181f8, tests/test_models_official.py, when segment_anything_hq is importable)"))
make_hq_sam = HQ_SAM.make  # make_hq_sam(variant, checkpoint=None, device="cpu", dtype="float32", config=None, md5=None)
