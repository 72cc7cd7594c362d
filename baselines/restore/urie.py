"""URIE (Son et al., "Universal image enhancement for visual recognition in the wild", ECCV 2020), the
restoration stage of RobustSAM's "URIE+SAM" baseline: the official SK-UNet written on torch alone from
taeyoungson/urie @ 8d806bc (``models/skunet_model.py``, ``models/skunet_parts.py``), with the official
attribute names and shapes, so the released ``ECCV_MODELS/ECCV_SKUNET_OURS.ckpt.pt`` (a state dict saved
from ``nn.DataParallel``, every key prefixed ``module.``, which the official ``render.py`` strips and
``baselines.checkpoints`` strips too) loads strictly.

The network: a 9x9 conv, two max-pool + selective-kernel conv stages, two bilinear-upsample (align_corners)
+ skip + selective conv stages, a 3x3 conv to RGB, added to the input. A selective conv runs two 3x3 convs,
one on LeakyReLU(BatchNorm(x)) and one on LeakyReLU(InstanceNorm(x)), and mixes them with a softmax over
two attention maps predicted on a 4x4 pooled grid and upsampled (nearest) to the feature size.

It works on ImageNet-normalised input (``(x / 255 - mean) / std``; the official ``render.py`` and the
README's "preprocess your data with mean and standard deviation") and returns an image in that space; the
8-bit restored image is ``round(clip(out * std + mean, 0, 1) * 255)`` (URIE's code never writes an 8-bit
image for recognition; this is the plain inverse of its normalisation)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..contract import ModelArgumentError

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # ImageNet, as URIE's transforms.Normalize
GRID = 4  # the selector's pooled attention grid (official spatial_attention)
REDUCTION = 16


@dataclass(frozen=True)
class UrieConfig:
    """Channels: stem, down2, down3, up1, up2 (official 32, 64, 64, 32, 16)."""

    widths: tuple[int, int, int, int, int] = (32, 64, 64, 32, 16)


CONFIGS = {"full": UrieConfig(), "tiny": UrieConfig((8, 16, 16, 8, 4))}  # tiny: tests only


def get_config(config: str | None) -> UrieConfig:
    key = config or "full"
    if key not in CONFIGS:
        raise ModelArgumentError(f"unknown URIE config {key!r}; valid: {', '.join(CONFIGS)}")
    return CONFIGS[key]


class Selector(nn.Module):
    """Two per-channel attention maps on a GRID x GRID pooled grid, softmax-normalised against each other."""

    def __init__(self, channels: int):
        super().__init__()
        n = channels * GRID * GRID
        self.fc = nn.Sequential(nn.Linear(n, n // REDUCTION, bias=False), nn.ReLU())
        self.att_conv1 = nn.Linear(n // REDUCTION, n)
        self.att_conv2 = nn.Linear(n // REDUCTION, n)

    def forward(self, x):
        b, c, h, w = x.shape
        y = self.fc(F.adaptive_avg_pool2d(x, GRID).reshape(b, -1))
        att = torch.softmax(torch.stack([self.att_conv1(y), self.att_conv2(y)]).reshape(2, b, c, GRID, GRID), dim=0)
        # the official upsampling: nearest with scale factor (H / GRID, W / GRID)
        return [F.interpolate(a, scale_factor=(h / GRID, w / GRID), mode="nearest") for a in att]


class SelectiveConv(nn.Module):
    """conv1 on LeakyReLU(BN(x)) and conv2 on LeakyReLU(IN(x)), mixed by the selector's attention. RobustSAM's
    DNC blocks use the same module (``baselines.sam.robustsam``)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.selector = Selector(cout)
        self.IN = nn.InstanceNorm2d(cin)  # no affine, no running stats: no state-dict entries
        self.BN = nn.BatchNorm2d(cin)

    def forward(self, x):
        out1 = self.conv1(F.leaky_relu(self.BN(x)))
        out2 = self.conv2(F.leaky_relu(self.IN(x)))
        att1, att2 = self.selector(out1 + out2)
        return out1 * att1 + out2 * att2


class SKDown(nn.Module):
    """Max-pool by 2, then a selective conv (official ``maxpool_conv`` Sequential, conv at index 1)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), SelectiveConv(cin, cout))

    def forward(self, x):
        return self.maxpool_conv(x)


class SKUp(nn.Module):
    """Bilinear x2 (align_corners), pad to the skip's size, concatenate [skip, up], selective conv."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = SelectiveConv(cin, cout)

    def forward(self, x, skip):
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
        dy, dx = skip.shape[2] - x.shape[2], skip.shape[3] - x.shape[3]
        x = F.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([skip, x], dim=1))


class SKUNet(nn.Module):
    """URIE's enhancer; ``forward`` returns the enhanced image (input + predicted residual)."""

    def __init__(self, cfg: UrieConfig):
        super().__init__()
        c1, c2, c3, u1, u2 = cfg.widths
        self.down1 = nn.Conv2d(3, c1, 9, padding=4)
        self.down2 = SKDown(c1, c2)
        self.down3 = SKDown(c2, c3)
        self.up1 = SKUp(c3 + c2, u1)
        self.up2 = SKUp(u1 + c1, u2)
        self.up3 = nn.Conv2d(u2, 3, 3, padding=1)

    def forward(self, x):
        x1 = self.down1(x)
        x2 = self.down2(x1)
        x3 = self.down3(x2)
        return x + self.up3(self.up2(self.up1(x3, x2), x1))

    # image in, image out --------------------------------------------------------------------------
    @staticmethod
    def _stats(device):
        return (torch.tensor(MEAN, device=device)[:, None, None], torch.tensor(STD, device=device)[:, None, None])

    @classmethod
    def to_input(cls, image: np.ndarray, device) -> torch.Tensor:
        """uint8 HxWx3 -> ImageNet-normalised (1, 3, H, W)."""
        mean, std = cls._stats(device)
        x = torch.as_tensor(image, device=device).permute(2, 0, 1).float() / 255
        return ((x - mean) / std)[None]

    @classmethod
    def to_image(cls, out: torch.Tensor) -> np.ndarray:
        """Normalised (1, 3, H, W) -> uint8 HxWx3: undo the normalisation, clip to [0, 1], round."""
        mean, std = cls._stats(out.device)
        x = (out[0].float() * std + mean).clamp(0, 1)
        return torch.round(x * 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def build_urie(config: str | None = None) -> SKUNet:
    """The bare module at random init (``config=None``: the official size)."""
    return SKUNet(get_config(config))
