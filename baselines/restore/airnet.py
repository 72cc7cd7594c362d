"""AirNet (Li et al., "All-in-one image restoration for unknown corruption", CVPR 2022), the restoration
stage of RobustSAM's "AirNet+SAM" baseline, written on torch alone from the official code
(XLearning-SCU/2022-CVPR-AirNet @ bedea82, ``net/model.py``, ``encoder.py``, ``moco.py``, ``DGRN.py``,
``deform_conv.py``). Attribute names and shapes equal the official ones, so the released ``state_dict``
(``torch.save(net.state_dict())``, loaded strictly by the official ``test.py``) loads strictly here.

* ``E`` (CBDE) holds the MoCo pair ``E.E.encoder_q`` / ``E.E.encoder_k`` and its queue buffers. At test time
  the official model runs only the query encoder and the restorer reads only ``inter``, the output of its
  first residual block (``E_pre``); the rest of the encoder (its pooled feature and MLP) does not reach the
  output, so ``forward`` computes ``E_pre`` alone (same output, less work). ``encoder_k`` and the queue are
  training state, kept so the release file's keys load strictly. The queue length is 256 x the training
  batch size, which differs per released file (``All.pth`` 5, ``Denoise.pth`` 3, ``Derain.pth`` and
  ``Dehaze.pth`` 1, from the official ``test.py``), hence ``TASKS``.
* ``R`` (DGRN) is 5 groups x 5 blocks of degradation-guided modules: a modulated deformable convolution whose
  offsets and mask come from ``[features, inter]`` plus a spatial feature transform of ``inter``.

Input: RGB in [0, 1] (the official ``ToTensor``); output: the restored image, which the official
``save_image_tensor`` turns into 8 bits as ``clip(x * 255, 0, 255)`` truncated to uint8."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..contract import ModelArgumentError
from .deform import modulated_deform_conv2d

SLOPE = 0.1  # every LeakyReLU of AirNet
#: released checkpoint -> training batch size (MoCo queue = 256 * batch); official test.py
TASKS = {"all": ("All.pth", 5), "denoise": ("Denoise.pth", 3), "derain": ("Derain.pth", 1),
         "dehaze": ("Dehaze.pth", 1)}


@dataclass(frozen=True)
class AirNetConfig:
    n_feats: int = 64  # DGRN width = channels of ``inter`` (E_pre's output)
    n_groups: int = 5
    n_blocks: int = 5
    encoder_dims: tuple[int, int] = (128, 256)  # the two strided ResBlocks after E_pre
    batch_size: int = 5  # sets the queue length, see TASKS


CONFIGS = {"full": AirNetConfig(),
           # tests only: every code path at a size that runs in milliseconds
           "tiny": AirNetConfig(n_feats=8, n_groups=1, n_blocks=1, encoder_dims=(16, 16), batch_size=1)}


def get_config(config: str | None, task: str = "all") -> AirNetConfig:
    if task not in TASKS:
        raise ModelArgumentError(f"unknown AirNet task {task!r}; valid: {', '.join(TASKS)} (which released file "
                                 f"you load: {', '.join(f'{t}={f}' for t, (f, _) in TASKS.items())})")
    key = config or "full"
    if key not in CONFIGS:
        raise ModelArgumentError(f"unknown AirNet config {key!r}; valid: {', '.join(CONFIGS)}")
    cfg = CONFIGS[key]
    return cfg if key != "full" else AirNetConfig(batch_size=TASKS[task][1])


def _conv(cin: int, cout: int, k: int, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2, bias=bias)


class ResBlock(nn.Module):
    """conv-BN-LeakyReLU-conv-BN plus a 1x1 conv-BN shortcut, then LeakyReLU (official ``encoder.ResBlock``)."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
                                      nn.LeakyReLU(SLOPE), nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
                                      nn.BatchNorm2d(cout))
        self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return F.leaky_relu(self.backbone(x) + self.shortcut(x), SLOPE)


class ResEncoder(nn.Module):
    """``E_pre`` (full resolution, gives ``inter``), two strided blocks + global pool, and a 2-layer MLP."""

    def __init__(self, cfg: AirNetConfig):
        super().__init__()
        d1, d2 = cfg.encoder_dims
        self.E_pre = ResBlock(3, cfg.n_feats)
        self.E = nn.Sequential(ResBlock(cfg.n_feats, d1, 2), ResBlock(d1, d2, 2), nn.AdaptiveAvgPool2d(1))
        self.mlp = nn.Sequential(nn.Linear(d2, d2), nn.LeakyReLU(SLOPE), nn.Linear(d2, d2))


class ContrastiveEncoders(nn.Module):
    """The MoCo state of the official ``moco.MoCo``: query and key encoders, queue (dim, 256 * batch), pointer."""

    def __init__(self, cfg: AirNetConfig):
        super().__init__()
        self.encoder_q = ResEncoder(cfg)
        self.encoder_k = ResEncoder(cfg)
        dim = cfg.encoder_dims[1]
        self.register_buffer("queue", F.normalize(torch.randn(dim, 256 * cfg.batch_size), dim=0))
        self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))


class DegradationEncoder(nn.Module):
    """The official ``CBDE``: a wrapper whose only child is ``E`` (keys ``E.E.*``)."""

    def __init__(self, cfg: AirNetConfig):
        super().__init__()
        self.E = ContrastiveEncoders(cfg)

    def inter(self, x):
        """The degradation map the restorer reads: the query encoder's first block on the input."""
        return self.E.encoder_q.E_pre(x)


class DeformLayer(nn.Module):
    """Official ``DCN_layer`` (bias=False): offsets and modulation from a conv over ``[x, inter]``."""

    def __init__(self, channels: int, k: int = 3):
        super().__init__()
        self.k = k
        self.weight = nn.Parameter(torch.empty(channels, channels, k, k))
        nn.init.uniform_(self.weight, -1 / (channels * k * k) ** 0.5, 1 / (channels * k * k) ** 0.5)
        self.conv_offset_mask = nn.Conv2d(2 * channels, 3 * k * k, k, padding=(k - 1) // 2)
        nn.init.zeros_(self.conv_offset_mask.weight)  # zero offsets at init, as the official init_offset
        nn.init.zeros_(self.conv_offset_mask.bias)

    def forward(self, x, inter):
        o1, o2, mask = torch.chunk(self.conv_offset_mask(torch.cat([x, inter], dim=1)), 3, dim=1)
        return modulated_deform_conv2d(x, torch.cat([o1, o2], dim=1), torch.sigmoid(mask), self.weight, None,
                                       stride=1, padding=(self.k - 1) // 2)


class SFTLayer(nn.Module):
    """Spatial feature transform: ``x * gamma(inter) + beta(inter)`` with two 1x1-conv branches, no bias."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv_gamma = self._branch(channels)
        self.conv_beta = self._branch(channels)

    @staticmethod
    def _branch(c: int) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(c, c, 1, bias=False), nn.LeakyReLU(SLOPE), nn.Conv2d(c, c, 1, bias=False))

    def forward(self, x, inter):
        return x * self.conv_gamma(inter) + self.conv_beta(inter)


class DGM(nn.Module):
    """Degradation-guided module: ``x + (dcn(x, inter) + sft(x, inter))`` (the official summation order)."""

    def __init__(self, channels: int):
        super().__init__()
        self.dcn = DeformLayer(channels)
        self.sft = SFTLayer(channels)

    def forward(self, x, inter):
        return x + (self.dcn(x, inter) + self.sft(x, inter))


class DGB(nn.Module):
    """Block: DGM, conv, DGM, conv (LeakyReLU between) with a residual connection."""

    def __init__(self, n: int):
        super().__init__()
        self.dgm1, self.dgm2 = DGM(n), DGM(n)
        self.conv1, self.conv2 = _conv(n, n, 3), _conv(n, n, 3)

    def forward(self, x, inter):
        out = F.leaky_relu(self.dgm1(x, inter), SLOPE)
        out = F.leaky_relu(self.conv1(out), SLOPE)
        out = F.leaky_relu(self.dgm2(out, inter), SLOPE)
        return self.conv2(out) + x


class DGG(nn.Module):
    """Group: ``n_blocks`` DGBs then a conv (``body`` = blocks + conv), with a residual connection."""

    def __init__(self, n: int, n_blocks: int):
        super().__init__()
        self.body = nn.Sequential(*[DGB(n) for _ in range(n_blocks)], _conv(n, n, 3))

    def forward(self, x, inter):
        res = x
        for block in self.body[:-1]:
            res = block(res, inter)
        return self.body[-1](res) + x


class DGRN(nn.Module):
    """Restorer: head conv, groups + conv with a long residual, tail conv back to RGB."""

    def __init__(self, cfg: AirNetConfig):
        super().__init__()
        n = cfg.n_feats
        self.head = nn.Sequential(_conv(3, n, 3))
        self.body = nn.Sequential(*[DGG(n, cfg.n_blocks) for _ in range(cfg.n_groups)], _conv(n, n, 3))
        self.tail = nn.Sequential(_conv(n, 3, 3))

    def forward(self, x, inter):
        x = self.head(x)
        res = x
        for group in self.body[:-1]:
            res = group(res, inter)
        return self.tail(self.body[-1](res) + x)


class AirNet(nn.Module):
    """``R`` (restorer) and ``E`` (degradation encoder); ``forward`` is the official test-time path."""

    def __init__(self, cfg: AirNetConfig):
        super().__init__()
        self.R = DGRN(cfg)
        self.E = DegradationEncoder(cfg)

    def forward(self, x):
        return self.R(x, self.E.inter(x))

    # image in, image out --------------------------------------------------------------------------
    @staticmethod
    def to_input(image: np.ndarray, device) -> torch.Tensor:
        """uint8 HxWx3 -> (1, 3, H, W) float in [0, 1] (the official ``ToTensor``)."""
        return torch.as_tensor(image, device=device).permute(2, 0, 1)[None].float() / 255

    @staticmethod
    def to_image(out: torch.Tensor) -> np.ndarray:
        """(1, 3, H, W) output -> uint8 HxWx3 as the official ``np_to_pil``: clip(x * 255) truncated."""
        return np.clip(out[0].permute(1, 2, 0).float().cpu().numpy() * 255, 0, 255).astype(np.uint8)


def build_airnet(config: str | None = None, task: str = "all") -> AirNet:
    """The bare module at random init (``config=None``: official size with the queue of ``task``'s file)."""
    return AirNet(get_config(config, task))
