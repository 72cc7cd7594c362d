"""Sliding-window inference, mmseg's ``slide`` test mode (``EncoderDecoder.slide_inference``, the same in
NVlabs/SegFormer and Woof6/ECOCSeg): windows of ``crop`` x ``crop`` every ``stride`` pixels, the last one
shifted back to end at the image border (so no padding; an image smaller than the window is one window of
its own size), each window's logits upsampled to the window, summed into the image and divided by how many
windows cover each pixel. The averaged values are logits, decoded afterwards (softmax argmax, or the
ECOC head's soft Hamming distance to each codeword, as ECOCSeg's ``inference``). The official SegFormer
Cityscapes configs use crop 1024, stride 768."""
from __future__ import annotations

from typing import Callable

import torch
from torch.nn import functional as F


def window_starts(size: int, crop: int, stride: int) -> list[int]:
    """Start offsets along one axis: mmseg's ``(size - crop + stride - 1) // stride + 1`` grids, clamped."""
    grids = max(size - crop + stride - 1, 0) // stride + 1
    return [max(min(i * stride + crop, size) - crop, 0) for i in range(grids)]


def slide_logits(net: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, crop: int, stride: int) -> torch.Tensor:
    """(B, C, H, W) logits at image size from ``net`` (any output resolution) run on each window of ``x``."""
    h, w = x.shape[2:]
    total, count = None, x.new_zeros((1, 1, h, w))
    for y1 in window_starts(h, crop, stride):
        for x1 in window_starts(w, crop, stride):
            y2, x2 = min(y1 + crop, h), min(x1 + crop, w)
            out = F.interpolate(net(x[:, :, y1:y2, x1:x2]), size=(y2 - y1, x2 - x1), mode="bilinear",
                                align_corners=False)
            if total is None:
                total = x.new_zeros((x.shape[0], out.shape[1], h, w))
            total[:, :, y1:y2, x1:x2] += out
            count[:, :, y1:y2, x1:x2] += 1
    return total / count


def rescale_size(w: int, h: int, scale: tuple[int, int]) -> tuple[int, int]:
    """mmcv ``rescale_size`` (keep ratio): the (w, h) that fits ``scale`` = (long side, short side) in either
    orientation, each side ``int(side * factor + 0.5)`` with factor min(long / longer, short / shorter).
    mmseg's ``Resize(keep_ratio=True)`` in training and test pipelines (test: before whole or slide inference,
    the logits resized back to the original size)."""
    long, short = max(scale), min(scale)
    factor = min(long / max(h, w), short / min(h, w))
    return int(w * factor + 0.5), int(h * factor + 0.5)


def parse_scale(text) -> tuple[int, int] | None:
    """``"WxH"`` as (W, H) with sides in 1..16384 (ASCII digits, at most 5 each), else None: the one reading
    of a scale, for the model's ``test_scale`` and a training recipe's scales alike."""
    w, sep, h = text.partition("x") if isinstance(text, str) else ("", "", "")
    ok = sep and all(v.isascii() and v.isdigit() and len(v) <= 5 and 1 <= int(v) <= 16384 for v in (w, h))
    return (int(w), int(h)) if ok else None
