"""SAM 2.1 sizes and the single-image model: ``Sam2Image`` holds every official top-level module (so a
SAM 2.1 checkpoint loads strictly) and computes the decoder inputs the official ``SAM2ImagePredictor``
computes: stride-4/8 features through ``conv_s0``/``conv_s1`` and the stride-16 embedding plus
``no_mem_embed``."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..contract import ModelArgumentError
from .heads import MaskDecoder, PromptEncoder
from .hiera import FpnNeck, Hiera, ImageEncoder
from .memory import add_video_parameters


@dataclass(frozen=True)
class Sam2Config:
    """Hiera trunk sizes of the official ``configs/sam2.1/sam2.1_hiera_*.yaml``; heads are 256 wide in
    every size (hard-coded in ``SAM2Base``)."""

    embed_dim: int
    num_heads: int
    stages: tuple[int, ...]
    global_att_blocks: tuple[int, ...]
    window_pos_embed_bkg: tuple[int, int]
    window_spec: tuple[int, ...] = (8, 4, 14, 7)
    image_size: int = 1024
    memory_layers: int = 4
    dim: int = 256
    mem_dim: int = 64

    @property
    def channel_list(self) -> list[int]:
        return [self.embed_dim * 8, self.embed_dim * 4, self.embed_dim * 2, self.embed_dim]

    @property
    def embedding_size(self) -> int:
        return self.image_size // 16


CONFIGS = {
    "hiera_t": Sam2Config(96, 1, (1, 2, 7, 2), (5, 7, 9), (7, 7)),
    "hiera_s": Sam2Config(96, 1, (1, 2, 11, 2), (7, 10, 13), (7, 7)),
    "hiera_b+": Sam2Config(112, 2, (2, 3, 16, 3), (12, 16, 20), (14, 14)),
    "hiera_l": Sam2Config(144, 2, (2, 6, 36, 4), (23, 33, 43), (7, 7), window_spec=(8, 4, 16, 8)),
    # tests only: every code path (windows, query pooling, a global block, top-down FPN) at 128 px
    "tiny": Sam2Config(8, 1, (1, 1, 2, 1), (3,), (4, 4), window_spec=(8, 4, 4, 2), image_size=128, memory_layers=1),
}


def get_config(variant: str, config: str | None) -> Sam2Config:
    key = variant if config in (None, "full") else config
    if key not in CONFIGS:
        raise ModelArgumentError(f"unknown SAM 2 config {key!r}; valid: full, {', '.join(CONFIGS)}")
    return CONFIGS[key]


class Sam2Image(nn.Module):
    """SAM 2.1 for single images; ``decoder`` may be a MaskDecoder subclass (RUAC)."""

    pixel_mean = (0.485, 0.456, 0.406)  # ImageNet statistics on [0, 1] pixels (SAM2Transforms)
    pixel_std = (0.229, 0.224, 0.225)

    def __init__(self, cfg: Sam2Config, decoder: MaskDecoder | None = None):
        super().__init__()
        self.image_size = cfg.image_size
        trunk = Hiera(cfg.embed_dim, cfg.num_heads, cfg.stages, cfg.global_att_blocks, cfg.window_pos_embed_bkg,
                      cfg.window_spec)
        self.image_encoder = ImageEncoder(trunk, FpnNeck(cfg.dim, cfg.channel_list))
        e = cfg.embedding_size
        self.sam_prompt_encoder = PromptEncoder(cfg.dim, (e, e), (cfg.image_size, cfg.image_size))
        self.sam_mask_decoder = decoder if decoder is not None else MaskDecoder(cfg.dim)
        self.no_mem_embed = nn.Parameter(0.02 * torch.randn(1, 1, cfg.dim))
        add_video_parameters(self, cfg.dim, cfg.mem_dim, cfg.memory_layers)

    def encode(self, x: torch.Tensor) -> dict:
        """Normalised (1, 3, S, S) input -> decoder inputs."""
        s0, s1, s2 = self.image_encoder(x)
        dec = self.sam_mask_decoder
        return {"image_embed": s2 + self.no_mem_embed.reshape(1, -1, 1, 1),
                "high_res": [dec.conv_s0(s0), dec.conv_s1(s1)]}

    def decode(self, features: dict, coords, labels, masks, multimask: bool):
        """(logits, scores, uncertainty or None) after SAM 2's multimask / stability selection."""
        sparse, dense = self.sam_prompt_encoder(coords, labels, masks)
        dec = self.sam_mask_decoder
        logits, scores, unc = dec.predict_masks(features["image_embed"], self.sam_prompt_encoder.get_dense_pe(),
                                                sparse, dense, features["high_res"])
        return dec.select(logits, scores, unc, multimask)
