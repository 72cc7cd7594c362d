"""RUAC's collaborative style-deformation attack (training only). Two small learned attackers read the clean
image's stride-16 features and the target mask and perturb the model input: the style attacker re-styles
each region (object, background) by a bounded change of its per-channel mean and std (mask-aware AdaIN), the
deformation attacker warps the object by a bounded dense offset field. Both predict from the same clean
features (in parallel), are applied in turn (style, then deformation) and the model sees the result through
one encoder pass. Their outputs pass a gradient-reversal layer, so in the one backward pass of a training
step the attackers ascend the very loss the model descends: one learned attack per step, no PGD iterations.

Facts taken from HongyouZhou/ruac@c2d107d (``core/attackers/{style,deform}.py``, ``core/pipeline.py``,
``core/grl.py``, ``modeling/style_utils.py``, ``configs/sam2_ruac_train.yaml``); the code here is ours.
What differs is in docs/training.md (RUAC): one object per image, so the style GCN that coordinates the
styles of several objects is not built."""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

STYLE_EPSILON = 0.3  # configs/sam2_ruac_train.yaml aue_config.style.epsilon
DEFORM_EPSILON = 0.15  # aue_config.deform.epsilon (feature-map pixels; x16 at the input)
MIN_REGION_PIXELS = 100  # style_utils.extract_gt_region_style: smaller regions take the global statistics


class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad.neg()


def reverse_grad(x: torch.Tensor) -> torch.Tensor:
    """Identity forward, negated gradient backward (no scale: strength is set by the budgets and the lr)."""
    return _Reverse.apply(x)


def region_style(images: torch.Tensor, regions: torch.Tensor, min_pixels: int = MIN_REGION_PIXELS) -> torch.Tensor:
    """(B, K, 6) per-channel mean and std of each binary region (B, K, H, W) of normalised images (B, 3, H, W),
    clamped to [-5, 5] and [0.01, 5]; a region under ``min_pixels`` takes the whole image's statistics."""
    m = regions[:, :, None]  # (B, K, 1, H, W)
    x = images[:, None]
    count = m.sum((3, 4))
    mean = (x * m).sum((3, 4)) / (count + 1e-8)
    std = torch.sqrt((((x - mean[..., None, None]) * m) ** 2).sum((3, 4)) / (count + 1e-8) + 1e-8)
    style = torch.cat([mean.clamp(-5, 5), std.clamp(0.01, 5)], dim=2)
    glob = torch.cat([images.mean((2, 3)).clamp(-5, 5), images.std((2, 3)).clamp(0.01, 5)], dim=1)
    small = (count < min_pixels).any(dim=2, keepdim=True)
    return torch.where(small, glob[:, None].expand_as(style), style)


def masked_pool(features: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
    """(B, K, C) mean feature of each region, regions resized (nearest) to the feature grid."""
    m = F.interpolate(regions, size=features.shape[-2:], mode="nearest").flatten(2)
    m = m / m.sum(2, keepdim=True).clamp(min=1.0)
    return torch.bmm(m, features.flatten(2).transpose(1, 2))


class StyleAttacker(nn.Module):
    """Per-region style change from the region's pooled clean features: mean' = mean * s + eps * tanh(r_shift)
    and std' = std * t, with s in [1 - 0.2, 1 + 0.2] and t in [1 - 0.5, 1 + 0.5] both from sigmoid(r_scale)
    (the official ranges min(0.2, 200 eps) and min(0.5, 500 eps) at eps = 0.3), std' >= 0.1."""

    def __init__(self, feature_dim: int = 256, epsilon: float = STYLE_EPSILON):
        super().__init__()
        self.epsilon = epsilon
        self.object_mlp = nn.Sequential(nn.Linear(feature_dim, 128), nn.LayerNorm(128), nn.ReLU(),
                                        nn.Linear(128, 6))
        for m in self.object_mlp:  # near-zero start: a weak attack at the beginning of training
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.zeros_(m.bias)

    def target_styles(self, features: torch.Tensor, images: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
        """(B, K, 6) adversarial styles; the gradient reaching the MLP is reversed."""
        source = region_style(images.detach(), regions)
        raw = reverse_grad(self.object_mlp(masked_pool(features.detach(), regions)))
        scale = 1 - min(0.2, self.epsilon * 200) + 2 * min(0.2, self.epsilon * 200) * torch.sigmoid(raw[..., :3])
        std_scale = 1 - min(0.5, self.epsilon * 500) + 2 * min(0.5, self.epsilon * 500) * torch.sigmoid(raw[..., :3])
        means = source[..., :3] * scale + self.epsilon * torch.tanh(raw[..., 3:])
        return torch.cat([means, (source[..., 3:] * std_scale).clamp(min=0.1)], dim=2)

    @staticmethod
    def apply(images: torch.Tensor, styles: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
        """Mask-aware AdaIN per region (source statistics from the same region, so an unchanged style is the
        identity), clamped to [-3, 3] and painted over the image region by region in order."""
        source = region_style(images, regions)
        out = images
        for k in range(styles.shape[1]):
            mu_s, sd_s = source[:, k, :3, None, None], source[:, k, 3:, None, None]
            mu_t, sd_t = styles[:, k, :3, None, None], styles[:, k, 3:, None, None]
            styled = ((images - mu_s) / (sd_s + 1e-6) * sd_t + mu_t).clamp(-3.0, 3.0)
            m = regions[:, k:k + 1]
            out = m * styled + (1 - m) * out
        return out


class DeformAttacker(nn.Module):
    """Dense offsets for the object from its mask and the clean features, through copies of SAM 2's memory
    encoder parts (mask downsampler, pixel projection, fuser; frozen) and a trained 3-conv offset net. An
    offset is (sigmoid(o) - 0.5) * 2 eps feature pixels, i.e. at most eps * (input / feature size) input pixels."""

    def __init__(self, memory_encoder: nn.Module, feature_dim: int = 256, epsilon: float = DEFORM_EPSILON):
        super().__init__()
        self.epsilon = epsilon
        self.mask_encoder = copy.deepcopy(memory_encoder.mask_downsampler)
        self.img_feat_proj = copy.deepcopy(memory_encoder.pix_feat_proj)
        self.fuser = copy.deepcopy(memory_encoder.fuser)
        self.offset_net = nn.Sequential(
            nn.InstanceNorm2d(feature_dim), nn.Conv2d(feature_dim, 128, 3, padding=1), nn.InstanceNorm2d(128),
            nn.ReLU(), nn.Conv2d(128, 64, 3, padding=1), nn.InstanceNorm2d(64), nn.ReLU(),
            nn.Conv2d(64, 2, 3, padding=1))
        for m in self.offset_net:
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.zeros_(m.bias)

    def offsets(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, 2, H, W) offsets (dx, dy) in input pixels for a binary object mask (B, 1, H, W) at input size."""
        fused = self.img_feat_proj(features.detach()) + self.mask_encoder.encoder(mask)
        for layer in self.fuser.layers:
            fused = layer(fused)
        ratio = torch.sigmoid(reverse_grad(self.offset_net(fused))) - 0.5
        h, w = mask.shape[-2:]
        up = F.interpolate(ratio.float(), size=(h, w), mode="bilinear", align_corners=False)
        scale = torch.tensor([w / fused.shape[3], h / fused.shape[2]], device=up.device).view(1, 2, 1, 1)
        return up * (2.0 * self.epsilon) * scale

    @staticmethod
    def apply(images: torch.Tensor, mask: torch.Tensor, offsets: torch.Tensor):
        """(warped images, warped binary mask): the object is cut out, warped with its mask (bilinear,
        border padding, align_corners=True) and pasted back over the remaining background."""
        n, _, h, w = images.shape
        ys, xs = torch.linspace(-1, 1, h, device=images.device), torch.linspace(-1, 1, w, device=images.device)
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        grid = torch.stack([gx, gy], dim=-1)[None] + torch.stack(
            [offsets[:, 0] / (w / 2), offsets[:, 1] / (h / 2)], dim=-1)
        warped = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=True)
        warped_mask = (F.grid_sample(mask, grid, mode="bilinear", padding_mode="border", align_corners=True)
                       > 0.5).float()
        background = images * (1 - mask) * (1 - warped_mask)
        return background + warped * warped_mask, warped_mask


def attack(style: StyleAttacker, deform: DeformAttacker, features: torch.Tensor, images: torch.Tensor,
           mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The cooperative attack: both attackers predict from the clean features, then style (object and
    background regions) and deformation (object; skipped for an empty mask) apply in that order.
    Returns (adversarial model input, warped target mask), both (B, *, H, W) at input size."""
    regions = torch.cat([mask, 1 - mask], dim=1)
    styles = style.target_styles(features, images, regions)
    offsets = deform.offsets(features, mask)
    styled = style.apply(images, styles, regions)
    warped, warped_mask = deform.apply(styled, mask, offsets)
    empty = (mask.flatten(1).sum(1) == 0).view(-1, 1, 1, 1)
    return torch.where(empty, styled, warped), torch.where(empty, mask, warped_mask)
