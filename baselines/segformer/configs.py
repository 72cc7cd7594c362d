"""MiT-B0..B5 sizes, as the official ``mit_b0``..``mit_b5`` classes (NVlabs/SegFormer
``mmseg/models/backbones/mix_transformer.py``, identical in Woof6/ECOCSeg) and the SegFormer decoder
widths of the official configs (``local_configs/segformer/B*``: 256 for B0/B1, 768 for B2..B5)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MiTConfig:
    embed_dims: tuple[int, int, int, int]
    depths: tuple[int, int, int, int]
    decoder_dim: int
    num_heads: tuple[int, int, int, int] = (1, 2, 5, 8)
    sr_ratios: tuple[int, int, int, int] = (8, 4, 2, 1)
    mlp_ratio: int = 4


_WIDE = (64, 128, 320, 512)
CONFIGS = {
    "b0": MiTConfig((32, 64, 160, 256), (2, 2, 2, 2), 256),
    "b1": MiTConfig(_WIDE, (2, 2, 2, 2), 256),
    "b2": MiTConfig(_WIDE, (3, 4, 6, 3), 768),
    "b3": MiTConfig(_WIDE, (3, 4, 18, 3), 768),
    "b4": MiTConfig(_WIDE, (3, 8, 27, 3), 768),
    "b5": MiTConfig(_WIDE, (3, 6, 40, 3), 768),
    # not an official size: a few-thousand-parameter model for tests and CPU experiments
    "tiny": MiTConfig((8, 16, 24, 32), (1, 1, 1, 1), 32, num_heads=(1, 1, 1, 2)),
}

#: patch-embedding (kernel, stride) per stage: 7/4 then 3/2 (OverlapPatchEmbed in the official backbone)
PATCH_EMBED = ((7, 4), (3, 2), (3, 2), (3, 2))
#: ImageNet mean/std in 0..255 RGB, the official configs' ``img_norm_cfg``
PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)
