"""Parameters of SAM 2's video memory path (memory attention, memory encoder, object pointers). A
single-image predictor never runs them, but official checkpoints carry them, so they are built with the
official names and shapes and loaded strictly; ``no_mem_embed`` is the one tensor image prediction uses
(see ``model.Sam2Image``)."""
from __future__ import annotations

import torch
from torch import nn

from .blocks import MLP, Attention, LayerNorm2d


class MemoryAttentionLayer(nn.Module):
    def __init__(self, dim: int, mem_dim: int, ff_dim: int):
        super().__init__()
        self.self_attn = Attention(dim, 1)
        self.cross_attn_image = Attention(dim, 1, kv_in_dim=mem_dim)
        self.linear1 = nn.Linear(dim, ff_dim)
        self.linear2 = nn.Linear(ff_dim, dim)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)


class MemoryAttention(nn.Module):
    def __init__(self, dim: int, mem_dim: int, num_layers: int, ff_dim: int = 2048):
        super().__init__()
        self.layers = nn.ModuleList(MemoryAttentionLayer(dim, mem_dim, ff_dim) for _ in range(num_layers))
        self.norm = nn.LayerNorm(dim)


class CXBlock(nn.Module):
    """ConvNeXt block of the memory fuser. Image prediction never runs it; RUAC's deformation attacker runs
    a copy (``forward`` as the official ``CXBlock``: depthwise conv, norm, MLP, layer scale, residual)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = LayerNorm2d(dim)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(1e-6 * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.dwconv(x)).permute(0, 2, 3, 1)
        y = self.gamma * self.pwconv2(nn.functional.gelu(self.pwconv1(y)))
        return x + y.permute(0, 3, 1, 2)


class MemoryEncoder(nn.Module):
    def __init__(self, dim: int, mem_dim: int, fuser_layers: int = 2):
        super().__init__()
        chans, layers = [1, 4, 16, 64, dim], []
        for a, b in zip(chans[:-1], chans[1:]):  # mask downsampler: 4 stride-2 convs, then a 1x1 conv
            layers += [nn.Conv2d(a, b, kernel_size=3, stride=2, padding=1), LayerNorm2d(b), nn.GELU()]
        layers.append(nn.Conv2d(dim, dim, kernel_size=1))
        self.mask_downsampler = nn.Module()
        self.mask_downsampler.encoder = nn.Sequential(*layers)
        self.pix_feat_proj = nn.Conv2d(dim, dim, kernel_size=1)
        self.fuser = nn.Module()
        self.fuser.layers = nn.ModuleList(CXBlock(dim) for _ in range(fuser_layers))
        self.out_proj = nn.Conv2d(dim, mem_dim, kernel_size=1)


def add_video_parameters(model: nn.Module, dim: int, mem_dim: int, memory_layers: int, num_maskmem: int = 7) -> None:
    """Attach the memory-path modules and tensors under their official top-level names."""
    model.memory_attention = MemoryAttention(dim, mem_dim, memory_layers)
    model.memory_encoder = MemoryEncoder(dim, mem_dim)
    model.maskmem_tpos_enc = nn.Parameter(0.02 * torch.randn(num_maskmem, 1, 1, mem_dim))
    model.no_mem_pos_enc = nn.Parameter(0.02 * torch.randn(1, 1, dim))
    model.no_obj_ptr = nn.Parameter(0.02 * torch.randn(1, dim))
    model.no_obj_embed_spatial = nn.Parameter(0.02 * torch.randn(1, mem_dim))
    model.mask_downsample = nn.Conv2d(1, 1, kernel_size=4, stride=4)
    model.obj_ptr_proj = MLP(dim, dim, dim, 3)
    model.obj_ptr_tpos_proj = nn.Linear(dim, mem_dim)
