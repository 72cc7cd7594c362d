"""SAM 2's image encoder: the Hiera trunk (multi-scale windowed attention with query pooling between
stages) and the FPN neck, with the official parameter names. Only what single-image prediction uses is
computed: the neck's sine position encodings feed SAM 2's video memory only, so they are not built."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import MLP


def window_partition(x: torch.Tensor, size: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """(B, H, W, C) -> (B * windows, size, size, C), zero-padding H and W up to multiples of ``size``."""
    b, h, w, c = x.shape
    ph, pw = (size - h % size) % size, (size - w % size) % size
    x = F.pad(x, (0, 0, 0, pw, 0, ph))
    hp, wp = h + ph, w + pw
    x = x.view(b, hp // size, size, wp // size, size, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, size, size, c), (hp, wp)


def window_unpartition(x: torch.Tensor, size: int, padded_hw: tuple[int, int], hw: tuple[int, int]) -> torch.Tensor:
    hp, wp = padded_hw
    b = x.shape[0] // ((hp // size) * (wp // size))
    x = x.reshape(b, hp // size, wp // size, size, size, -1).permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, -1)
    return x[:, : hw[0], : hw[1]]


def _pool(x: torch.Tensor, pool: nn.Module | None) -> torch.Tensor:
    """Max-pool a (B, H, W, C) map (Hiera's query pooling)."""
    return x if pool is None else pool(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class MultiScaleAttention(nn.Module):
    def __init__(self, dim: int, dim_out: int, num_heads: int, q_pool: nn.Module | None):
        super().__init__()
        self.num_heads = num_heads
        self.q_pool = q_pool
        self.qkv = nn.Linear(dim, dim_out * 3)
        self.proj = nn.Linear(dim_out, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, _ = x.shape
        q, k, v = self.qkv(x).reshape(b, h * w, 3, self.num_heads, -1).unbind(2)
        if self.q_pool is not None:
            q = _pool(q.reshape(b, h, w, -1), self.q_pool)
            h, w = q.shape[1:3]
            q = q.reshape(b, h * w, self.num_heads, -1)
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return self.proj(out.transpose(1, 2).reshape(b, h, w, -1))


class MultiScaleBlock(nn.Module):
    def __init__(self, dim: int, dim_out: int, num_heads: int, q_stride: int | None, window_size: int):
        super().__init__()
        self.dim, self.dim_out = dim, dim_out
        self.window_size = window_size
        self.q_stride = q_stride
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        pool = nn.MaxPool2d(q_stride, q_stride) if q_stride else None
        self.pool = pool
        self.attn = MultiScaleAttention(dim, dim_out, num_heads, pool)
        self.norm2 = nn.LayerNorm(dim_out, eps=1e-6)
        self.mlp = MLP(dim_out, 4 * dim_out, dim_out, 2, activation=nn.GELU)
        if dim != dim_out:
            self.proj = nn.Linear(dim, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.norm1(x)
        if self.dim != self.dim_out:
            shortcut = _pool(self.proj(x), self.pool)
        size = self.window_size
        if size > 0:
            hw = x.shape[1:3]
            x, padded = window_partition(x, size)
        x = self.attn(x)
        if self.q_stride:  # the query was pooled: windows shrank with the map
            size = self.window_size // self.q_stride
            hw = shortcut.shape[1:3]
            padded = (hw[0] + (size - hw[0] % size) % size, hw[1] + (size - hw[1] % size) % size)
        if self.window_size > 0:
            x = window_unpartition(x, size, padded, hw)
        x = shortcut + x
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, embed_dim: int):
        super().__init__()
        self.proj = nn.Conv2d(3, embed_dim, kernel_size=7, stride=4, padding=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).permute(0, 2, 3, 1)


class Hiera(nn.Module):
    """Hiera trunk; returns the last block's features of each of the 4 stages (high to low resolution)."""

    def __init__(self, embed_dim: int, num_heads: int, stages: tuple[int, ...], global_att_blocks: tuple[int, ...],
                 window_pos_embed_bkg_spatial_size: tuple[int, int], window_spec: tuple[int, ...], q_pool: int = 3):
        super().__init__()
        self.stage_ends = [sum(stages[: i + 1]) - 1 for i in range(len(stages))]
        pool_blocks = [e + 1 for e in self.stage_ends[:-1]][:q_pool]
        self.patch_embed = PatchEmbed(embed_dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, embed_dim, *window_pos_embed_bkg_spatial_size))
        self.pos_embed_window = nn.Parameter(torch.zeros(1, embed_dim, window_spec[0], window_spec[0]))
        self.blocks = nn.ModuleList()
        stage, dim = 0, embed_dim
        for i in range(sum(stages)):
            window = 0 if i in global_att_blocks else window_spec[stage]  # lags the stage by one block
            dim_out = dim
            if i - 1 in self.stage_ends:
                dim_out, num_heads, stage = 2 * dim, 2 * num_heads, stage + 1
            self.blocks.append(MultiScaleBlock(dim, dim_out, num_heads, 2 if i in pool_blocks else None, window))
            dim = dim_out
        self.channel_list = [self.blocks[i].dim_out for i in self.stage_ends[::-1]]

    def _pos_embed(self, h: int, w: int) -> torch.Tensor:
        pos = F.interpolate(self.pos_embed, size=(h, w), mode="bicubic")
        win = self.pos_embed_window
        pos = pos + win.tile([1, 1, h // win.shape[2], w // win.shape[3]])
        return pos.permute(0, 2, 3, 1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.patch_embed(x)
        x = x + self._pos_embed(*x.shape[1:3])
        outputs = []
        for i, blk in enumerate(self.blocks):
            x = blk(x)
            if i in self.stage_ends:
                outputs.append(x.permute(0, 3, 1, 2))
        return outputs


class FpnNeck(nn.Module):
    """1x1 lateral convs to ``d_model``; top-down nearest upsampling only into ``top_down_levels``."""

    def __init__(self, d_model: int, backbone_channel_list: list[int], top_down_levels: tuple[int, ...] = (2, 3)):
        super().__init__()
        self.convs = nn.ModuleList()
        for dim in backbone_channel_list:
            lateral = nn.Sequential()
            lateral.add_module("conv", nn.Conv2d(dim, d_model, kernel_size=1))
            self.convs.append(lateral)
        self.top_down_levels = top_down_levels

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        n = len(self.convs) - 1
        out: list[torch.Tensor] = [None] * len(xs)  # type: ignore[list-item]
        prev = None
        for i in range(n, -1, -1):  # low to high resolution
            lateral = self.convs[n - i](xs[i])
            if i in self.top_down_levels and prev is not None:
                lateral = lateral + F.interpolate(prev.float(), scale_factor=2.0, mode="nearest")
            prev = out[i] = lateral
        return out


class ImageEncoder(nn.Module):
    """Trunk + neck; ``scalp=1`` drops the lowest-resolution level (as every SAM 2.1 config)."""

    def __init__(self, trunk: Hiera, neck: FpnNeck, scalp: int = 1):
        super().__init__()
        self.trunk, self.neck, self.scalp = trunk, neck, scalp

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = self.neck(self.trunk(x))
        return feats[: len(feats) - self.scalp]
