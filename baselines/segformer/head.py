"""The SegFormer all-MLP decoder with the official names (``linear_c{1..4}.proj``,
``linear_fuse.{conv,bn}``, ``linear_pred``) and ``conv_seg``: the official head inherits mmseg 0.x's
``BaseDecodeHead``, which always builds ``conv_seg`` (Conv2d(channels=128, num_classes, 1)); SegFormer never
calls it, but it is in every released checkpoint, so it is here too, unused, for strict loading.

``num_outputs`` is C class logits, or K code bits for the ECOC variant (ECOCSeg replaces the C-way
classifier by K bit logits; everything before it is unchanged)."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

CONV_SEG_CHANNELS = 128  # ``channels=128`` in the official SegFormer configs


class MLP(nn.Module):
    def __init__(self, in_dim: int, dim: int):
        super().__init__()
        self.proj = nn.Linear(in_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        return self.proj(x.flatten(2).transpose(1, 2)).transpose(1, 2).reshape(b, -1, h, w)


class ConvBNReLU(nn.Module):
    """mmcv's ConvModule with a BN norm: ``conv`` (no bias, since a norm follows), ``bn``, ReLU."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class SegFormerHead(nn.Module):
    def __init__(self, in_dims: tuple[int, ...], dim: int, num_outputs: int):
        super().__init__()
        for i, c in enumerate(in_dims):
            setattr(self, f"linear_c{i + 1}", MLP(c, dim))
        self.linear_fuse = ConvBNReLU(dim * len(in_dims), dim)
        self.linear_pred = nn.Conv2d(dim, num_outputs, 1)
        self.conv_seg = nn.Conv2d(CONV_SEG_CHANNELS, num_outputs, 1)  # built, never called (see module doc)
        self.dropout = nn.Dropout2d(0.1)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        size = feats[0].shape[2:]
        ups = [F.interpolate(getattr(self, f"linear_c{i + 1}")(f), size=size, mode="bilinear", align_corners=False)
               for i, f in enumerate(feats)]
        x = self.linear_fuse(torch.cat(ups[::-1], dim=1))  # official order: c4, c3, c2, c1
        return self.linear_pred(self.dropout(x))


class SegFormer(nn.Module):
    """Encoder-decoder; ``backbone.*`` and ``decode_head.*`` as in mmseg's EncoderDecoder checkpoints.
    Returns logits at 1/4 of the input resolution."""

    def __init__(self, cfg, num_outputs: int):
        super().__init__()
        from .mit import MixVisionTransformer

        self.backbone = MixVisionTransformer(cfg)
        self.decode_head = SegFormerHead(cfg.embed_dims, cfg.decoder_dim, num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode_head(self.backbone(x))
