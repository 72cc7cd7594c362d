"""Modulated deformable convolution (DCNv2, Zhu et al. 2019) on torch alone.

Why here: AirNet's restorer calls ``mmcv.ops.modulated_deform_conv2d`` (mmcv-full, a compiled CUDA/C++
extension); robustseg installs neither mmcv nor torchvision. This is the same operation written with
``gather``, following mmcv's definition (``modulated_deform_conv.cpp``, im2col kernel):

* offset channels per kernel tap k = i * kw + j are interleaved ``(dy_k, dx_k)`` at channels ``2k, 2k + 1``;
  the modulation mask has one channel per tap;
* tap k of output pixel (y, x) samples the input at ``(y * stride - pad + i * dilation + dy_k,
  x * stride - pad + j * dilation + dx_k)`` bilinearly; a sample with ``h <= -1``, ``w <= -1``, ``h >= H``
  or ``w >= W`` is 0, and corners outside the image count as 0;
* the sample is multiplied by the mask, then by the weight of tap k, summed over taps and input channels.

One deformable group, one convolution group (what AirNet uses). Taps are processed one at a time so memory
stays at one (B, C, H_out * W_out) sample buffer."""
from __future__ import annotations

from typing import Optional

import torch


def _bilinear_zero(flat: torch.Tensor, py: torch.Tensor, px: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Samples (B, C, N) of ``flat`` (B, C, H*W) at float pixel positions ``py``, ``px`` (B, N), with mmcv's
    zero-outside rule."""
    b, c, _ = flat.shape
    inside = (py > -1) & (px > -1) & (py < height) & (px < width)
    y0, x0 = torch.floor(py), torch.floor(px)
    ly, lx = py - y0, px - x0
    out = flat.new_zeros(b, c, py.shape[1])
    for dy, dx, wgt in ((0, 0, (1 - ly) * (1 - lx)), (0, 1, (1 - ly) * lx), (1, 0, ly * (1 - lx)), (1, 1, ly * lx)):
        yy, xx = y0 + dy, x0 + dx
        ok = inside & (yy >= 0) & (yy <= height - 1) & (xx >= 0) & (xx <= width - 1)
        idx = (yy.clamp(0, height - 1) * width + xx.clamp(0, width - 1)).long()
        vals = torch.gather(flat, 2, idx[:, None, :].expand(b, c, -1))
        out = out + vals * (wgt * ok)[:, None, :]
    return out


def modulated_deform_conv2d(x: torch.Tensor, offset: torch.Tensor, mask: torch.Tensor, weight: torch.Tensor,
                            bias: Optional[torch.Tensor] = None, stride: int = 1, padding: int = 0,
                            dilation: int = 1) -> torch.Tensor:
    """DCNv2 of ``x`` (B, C, H, W) with ``offset`` (B, 2*kh*kw, Ho, Wo), ``mask`` (B, kh*kw, Ho, Wo) and
    ``weight`` (O, C, kh, kw): (B, O, Ho, Wo), as mmcv's ``modulated_deform_conv2d`` with groups = 1 and
    deformable_groups = 1."""
    b, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    ho = (h + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    wo = (w + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    if offset.shape != (b, 2 * kh * kw, ho, wo) or mask.shape != (b, kh * kw, ho, wo):
        raise ValueError(f"offset {tuple(offset.shape)} / mask {tuple(mask.shape)} do not fit a {kh}x{kw} kernel "
                         f"on a ({ho}, {wo}) output")
    ys = (torch.arange(ho, device=x.device, dtype=x.dtype) * stride - padding)[:, None].expand(ho, wo).reshape(1, -1)
    xs = (torch.arange(wo, device=x.device, dtype=x.dtype) * stride - padding)[None, :].expand(ho, wo).reshape(1, -1)
    flat = x.reshape(b, c, h * w)
    offset, mask = offset.reshape(b, 2 * kh * kw, -1), mask.reshape(b, kh * kw, -1)
    out = x.new_zeros(b, o, ho * wo)
    for i in range(kh):
        for j in range(kw):
            k = i * kw + j
            py, px = ys + i * dilation + offset[:, 2 * k], xs + j * dilation + offset[:, 2 * k + 1]
            sampled = _bilinear_zero(flat, py, px, h, w)
            out = out + torch.einsum("oc,bcn->bon", weight[:, :, i, j], sampled * mask[:, k, None, :])
    if bias is not None:
        out = out + bias[None, :, None]
    return out.reshape(b, o, ho, wo)
