"""SAM 2's prompt encoder and mask decoder (official parameter names). Differences from SAM 1 that matter
for outputs: box corners are points with labels 2/3 (so a padding point is always appended), the decoder
adds high-resolution stride-4/8 features while upscaling, predicts an object score, squashes the IoU head
with a sigmoid, and, for single-mask output, falls back to the best multimask candidate when the
single-mask logits are unstable (``dynamic_multimask_via_stability``, on in the official predictor)."""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from .blocks import MLP, LayerNorm2d, PositionEmbeddingRandom, TwoWayTransformer


class PromptEncoder(nn.Module):
    def __init__(self, embed_dim: int, embedding_hw: tuple[int, int], input_hw: tuple[int, int],
                 mask_in_chans: int = 16):
        super().__init__()
        self.embed_dim = embed_dim
        self.embedding_hw = embedding_hw
        self.input_hw = input_hw
        self.pe_layer = PositionEmbeddingRandom(embed_dim // 2)
        # labels 0 negative point, 1 positive point, 2 / 3 box top-left / bottom-right corner
        self.point_embeddings = nn.ModuleList(nn.Embedding(1, embed_dim) for _ in range(4))
        self.not_a_point_embed = nn.Embedding(1, embed_dim)
        self.mask_input_size = (4 * embedding_hw[0], 4 * embedding_hw[1])
        self.mask_downscaling = nn.Sequential(
            nn.Conv2d(1, mask_in_chans // 4, kernel_size=2, stride=2), LayerNorm2d(mask_in_chans // 4), nn.GELU(),
            nn.Conv2d(mask_in_chans // 4, mask_in_chans, kernel_size=2, stride=2), LayerNorm2d(mask_in_chans),
            nn.GELU(),
            nn.Conv2d(mask_in_chans, embed_dim, kernel_size=1))
        self.no_mask_embed = nn.Embedding(1, embed_dim)

    def get_dense_pe(self) -> torch.Tensor:
        return self.pe_layer.grid(*self.embedding_hw)[None]

    def forward(self, coords: torch.Tensor, labels: torch.Tensor, masks: Optional[torch.Tensor]):
        """``coords`` (B, N, 2) input pixels, ``labels`` (B, N) in {0, 1, 2, 3}; a padding point (label -1)
        is appended, as SAM 2's predictor always calls the encoder without ``boxes``."""
        b = coords.shape[0]
        coords = torch.cat([coords + 0.5, coords.new_zeros(b, 1, 2)], dim=1)  # + 0.5: pixel centres
        labels = torch.cat([labels, labels.new_full((b, 1), -1)], dim=1)[..., None]
        emb = self.pe_layer.points(coords, self.input_hw)
        emb = torch.where(labels == -1, torch.zeros_like(emb) + self.not_a_point_embed.weight, emb)
        for i, table in enumerate(self.point_embeddings):
            emb = torch.where(labels == i, emb + table.weight, emb)
        if masks is not None:
            dense = self.mask_downscaling(masks)
        else:
            dense = self.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(b, -1, *self.embedding_hw)
        return emb, dense


class MaskDecoder(nn.Module):
    """SAM 2's decoder with high-res features, object-score token and sigmoid IoU head. ``mask_logits`` is the
    step RUAC replaces (hypernetwork product here)."""

    num_multimask_outputs = 3
    stability_delta = 0.05
    stability_thresh = 0.98

    def __init__(self, dim: int = 256, mlp_dim: int = 2048, num_heads: int = 8, iou_hidden_dim: int = 256):
        super().__init__()
        self.transformer_dim = dim
        self.transformer = TwoWayTransformer(2, dim, num_heads, mlp_dim)
        self.num_mask_tokens = self.num_multimask_outputs + 1
        self.iou_token = nn.Embedding(1, dim)
        self.mask_tokens = nn.Embedding(self.num_mask_tokens, dim)
        self.obj_score_token = nn.Embedding(1, dim)
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(dim, dim // 4, kernel_size=2, stride=2), LayerNorm2d(dim // 4), nn.GELU(),
            nn.ConvTranspose2d(dim // 4, dim // 8, kernel_size=2, stride=2), nn.GELU())
        self.conv_s0 = nn.Conv2d(dim, dim // 8, kernel_size=1)
        self.conv_s1 = nn.Conv2d(dim, dim // 4, kernel_size=1)
        self.output_hypernetworks_mlps = nn.ModuleList(MLP(dim, dim, dim // 8, 3) for _ in range(self.num_mask_tokens))
        self.iou_prediction_head = MLP(dim, iou_hidden_dim, self.num_mask_tokens, 3, sigmoid_output=True)
        self.pred_obj_score_head = MLP(dim, dim, 1, 3)

    def predict_masks(self, image_embed, image_pe, sparse, dense, high_res: list[torch.Tensor]):
        """Logits (B, 4, h, w), IoU scores (B, 4) and optional uncertainty (B, 4, h, w) for all 4 mask tokens.
        The object score is not returned: SAM 2's image predictor ignores it."""
        up, mask_tokens_out, iou_token_out = self.decode_tokens(image_embed, image_pe, sparse, dense, high_res)
        logits, uncertainty = self.mask_logits(up, mask_tokens_out)
        return logits, self.iou_prediction_head(iou_token_out), uncertainty

    def decode_tokens(self, image_embed, image_pe, sparse, dense, high_res: list[torch.Tensor]):
        """The two-way transformer and upscaling: (upscaled features (B, C/8, h, w), mask tokens (B, 4, C),
        IoU token (B, C)), what ``mask_logits`` and the IoU head read (RUAC's training forward reads them too)."""
        b = sparse.shape[0]
        out_tokens = torch.cat([self.obj_score_token.weight, self.iou_token.weight, self.mask_tokens.weight], dim=0)
        tokens = torch.cat([out_tokens[None].expand(b, -1, -1), sparse], dim=1)
        src = image_embed.expand(b, -1, -1, -1) + dense
        _, c, h, w = src.shape
        hs, src = self.transformer(src, image_pe, tokens)
        iou_token_out = hs[:, 1]
        mask_tokens_out = hs[:, 2: 2 + self.num_mask_tokens]
        dc1, ln1, act1, dc2, act2 = self.output_upscaling
        feat_s0, feat_s1 = high_res
        up = act1(ln1(dc1(src.transpose(1, 2).reshape(b, c, h, w)) + feat_s1))
        up = act2(dc2(up) + feat_s0)
        return up, mask_tokens_out, iou_token_out

    def mask_logits(self, upscaled: torch.Tensor, mask_tokens_out: torch.Tensor):
        """(logits (B, 4, h, w), None): per-token hypernetwork weights dotted with the upscaled features."""
        hyper = torch.stack([mlp(mask_tokens_out[:, i]) for i, mlp in enumerate(self.output_hypernetworks_mlps)], 1)
        b, c, h, w = upscaled.shape
        return (hyper @ upscaled.reshape(b, c, h * w)).reshape(b, -1, h, w), None

    def select(self, logits, scores, uncertainty, multimask: bool):
        """Tokens 1..3 for multimask; else token 0, or the best multimask token where token 0's mask is
        unstable (stability = IoU of the masks thresholded at +-0.05 below 0.98). Uncertainty follows."""
        if multimask:
            return logits[:, 1:], scores[:, 1:], None if uncertainty is None else uncertainty[:, 1:]
        flat = logits[:, 0].flatten(1)
        inter = (flat > self.stability_delta).sum(-1).float()
        union = (flat > -self.stability_delta).sum(-1).float()
        stable = torch.where(union > 0, inter / union, torch.ones_like(union)) >= self.stability_thresh
        best = 1 + scores[:, 1:].argmax(dim=-1)
        idx = torch.where(stable, torch.zeros_like(best), best)
        rows = torch.arange(logits.shape[0], device=logits.device)
        pick = (lambda t: t[rows, idx][:, None])
        return pick(logits), pick(scores), None if uncertainty is None else pick(uncertainty)
