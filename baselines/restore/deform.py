"""Modulated deformable convolution (DCNv2, Zhu et al. 2019) on torch alone.

Why here: AirNet's restorer calls ``mmcv.ops.modulated_deform_conv2d`` (mmcv-full, a compiled CUDA/C++
extension); robustseg installs neither mmcv nor torchvision. This is the same operation on torch alone
(per kernel tap, one ``grid_sample`` and one contraction with that tap's weight), following mmcv's definition (``modulated_deform_conv.cpp``, im2col kernel):

* offset channels per kernel tap k = i * kw + j are interleaved ``(dy_k, dx_k)`` at channels ``2k, 2k + 1``;
  the modulation mask has one channel per tap;
* tap k of output pixel (y, x) samples the input at ``(y * stride - pad + i * dilation + dy_k,
  x * stride - pad + j * dilation + dx_k)`` bilinearly; a sample with ``h <= -1``, ``w <= -1``, ``h >= H``
  or ``w >= W`` is 0, and corners outside the image count as 0;
* the sample is multiplied by the mask, then by the weight of tap k, summed over taps and input channels.

One deformable group, one convolution group (what AirNet uses). Memory: one (B, C, H_out*W_out) sample buffer
at a time (a full-resolution AirNet feature map has 64 channels).
Sampling positions pass through grid_sample's normalised coordinates in the input's dtype, so they may differ
from mmcv's by float rounding (about 1e-7 of the image size in pixels)."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F


def modulated_deform_conv2d(x: torch.Tensor, offset: torch.Tensor, mask: torch.Tensor, weight: torch.Tensor,
                            bias: Optional[torch.Tensor] = None, stride: int = 1, padding: int = 0,
                            dilation: int = 1) -> torch.Tensor:
    """DCNv2 of ``x`` (B, C, H, W) with ``offset`` (B, 2*kh*kw, Ho, Wo), ``mask`` (B, kh*kw, Ho, Wo) and
    ``weight`` (O, C, kh, kw): (B, O, Ho, Wo), as mmcv's ``modulated_deform_conv2d`` with groups = 1 and
    deformable_groups = 1."""
    b, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    taps = kh * kw
    ho = (h + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    wo = (w + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    if offset.shape != (b, 2 * taps, ho, wo) or mask.shape != (b, taps, ho, wo):
        raise ValueError(f"offset {tuple(offset.shape)} / mask {tuple(mask.shape)} do not fit a {kh}x{kw} kernel "
                         f"on a ({ho}, {wo}) output")
    ki = torch.arange(kh, device=x.device, dtype=x.dtype).repeat_interleave(kw) * dilation  # tap k = i * kw + j
    kj = torch.arange(kw, device=x.device, dtype=x.dtype).repeat(kh) * dilation
    ys = torch.arange(ho, device=x.device, dtype=x.dtype) * stride - padding
    xs = torch.arange(wo, device=x.device, dtype=x.dtype) * stride - padding
    off = offset.reshape(b, taps, 2, ho, wo)
    py = ys[None, None, :, None] + ki[None, :, None, None] + off[:, :, 0]  # (B, taps, Ho, Wo) pixel rows
    px = xs[None, None, None, :] + kj[None, :, None, None] + off[:, :, 1]
    # bilinear with zero outside: grid_sample(align_corners=False) maps g -> ((g + 1) * size - 1) / 2 pixels, and
    # counts corners outside the image as 0, which is mmcv's rule (a sample at h <= -1 or h >= H has no corner in)
    grid = torch.stack([(2 * px + 1) / w - 1, (2 * py + 1) / h - 1], dim=-1)  # (B, taps, Ho, Wo, 2)
    out = x.new_zeros(b, o, ho * wo)
    for k in range(taps):  # one tap at a time: memory stays at one (B, C, Ho*Wo) sample buffer
        col = F.grid_sample(x, grid[:, k], mode="bilinear", padding_mode="zeros", align_corners=False)
        col = col.reshape(b, c, ho * wo) * mask[:, k].reshape(b, 1, ho * wo)
        out = out + torch.einsum("oc,bcn->bon", weight[:, :, k // kw, k % kw], col)
    if bias is not None:
        out = out + bias[None, :, None]
    return out.reshape(b, o, ho, wo)
