"""RUAC's training forward (``training_outputs``), on the same SAM 2.1 module the registry builds. A clean
branch gives the segmentation logits; when the batch asks for it, an adversarial branch runs the
collaborative style-deformation attack (``ruac_attack``) and returns what the uncertainty-accuracy
alignment loss reads: the attacked logits and warped target, the pixel logits, and the uncertainty both
sampled (no gradient) and in closed form (with gradient).

In training the BNDL head draws its pixel features and token weights once from their Weibull posteriors
(reparameterised, so gradients reach means and shapes), as RUAC's decoder does ("mask logits come from a
sampled forward in training"); inference uses the posterior means. Facts from HongyouZhou/ruac@c2d107d
(``adapters/sam2/bayesian_decoder.py``, ``core/bndl/uncertainty.py``, ``core/losses/aue.py``); code ours."""
from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..family import seeded_init
from ..training import AdversarialOutputs, TrainingBatch, TrainingOutputs
from .model import Sam2Image
from .ruac_attack import DeformAttacker, StyleAttacker, attack

ATTACKER_SEED = 1  # the attackers' random init (their own seed, so it does not depend on the model's)


def weibull_variance(mean: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
    """Var of a Weibull with this mean and shape k: mean^2 (Gamma(1+2/k) / Gamma(1+1/k)^2 - 1), in log space
    (the ratio's log floored at 1e-7 as RUAC's closed form floors it)."""
    inv_k = 1 / shape
    d = torch.lgamma(1 + 2 * inv_k) - 2 * torch.lgamma(1 + inv_k)
    return mean ** 2 * torch.expm1(d.clamp(min=1e-7))


def analytic_uncertainty(bndl, z, k, w, k_w) -> torch.Tensor:
    """(B, K, H, W) closed-form uncertainty, differentiable: logit variance = sum_c Var[z_c] * mean over the two
    classes of Var[w_c] (RUAC's simplified propagation), E[sigmoid] by MacKay's probit approximation
    sigmoid(mu / sqrt(1 + pi var / 8)) of the mean logit, then Bernoulli entropy / ln 2 (p clamped to
    [1e-4, 1 - 1e-4]). Computed in float32 (Gamma-function ratios lose too much in half precision)."""
    z, k, w, k_w = (t.float() for t in (z, k, w, k_w))
    var = torch.einsum("bhwc,bkc->bkhw", weibull_variance(z, k), weibull_variance(w, k_w).mean(2).clamp(min=1e-8))
    p = torch.sigmoid(bndl.logits(z, w) / torch.sqrt(1 + math.pi / 8 * var + 1e-8)).clamp(1e-4, 1 - 1e-4)
    return (torch.special.entr(p) + torch.special.entr(1 - p)) / math.log(2)


class RuacSam2(Sam2Image):
    """SAM 2.1 with RUAC's BNDL decoder (the registered ``ruac_sam2.1_hiera_b+`` module) plus its training
    forward. ``prepare_training`` adds the two attackers (``style_attacker.``, ``deform_attacker.``, keys a
    release file may carry and the registry's loader drops)."""

    def prepare_training(self) -> None:
        """Build the attackers, the deformation attacker's encoder parts copied from the (loaded) memory
        encoder, as RUAC initialises them; called by the trainer after the initial weights are loaded."""
        if hasattr(self, "style_attacker"):
            return
        dim = self.sam_prompt_encoder.embed_dim
        with seeded_init(ATTACKER_SEED):
            style, deform = StyleAttacker(dim), DeformAttacker(self.memory_encoder, dim)
        device = self.no_mem_embed.device
        self.style_attacker, self.deform_attacker = style.to(device), deform.to(device)

    def training_input(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """(B, 3, S, S) normalised input, as SAM 2's transforms (bilinear antialiased resize, ImageNet stats)."""
        dev = self.no_mem_embed.device
        x = torch.as_tensor(np.stack(images), device=dev).permute(0, 3, 1, 2).float() / 255.0
        x = F.interpolate(x, (self.image_size, self.image_size), mode="bilinear", align_corners=False, antialias=True)
        mean = torch.tensor(self.pixel_mean, device=dev).view(1, 3, 1, 1)
        return (x - mean) / torch.tensor(self.pixel_std, device=dev).view(1, 3, 1, 1)

    def _prompt(self, points: Optional[np.ndarray], box: Optional[np.ndarray], train_size: int):
        """(1, N, 2) input coordinates and (1, N) labels: box corners (labels 2, 3) or positive clicks."""
        dev = self.no_mem_embed.device
        pts = np.asarray(box, np.float64).reshape(2, 2) if box is not None else np.asarray(points, np.float64)
        labels = [2, 3] if box is not None else [1] * len(pts)
        coords = torch.as_tensor(pts * (self.image_size / train_size), dtype=torch.float32, device=dev)[None]
        return coords, torch.tensor([labels], dtype=torch.int32, device=dev)

    def _decode(self, trunk: list, batch: TrainingBatch, generator, uncertainty: bool):
        """Per item: sampled logits (1, 4, h, w) and, if asked, (closed-form, Monte-Carlo) uncertainty."""
        s0, s1, s2 = trunk
        dec, bndl = self.sam_mask_decoder, self.sam_mask_decoder.pixel_bndl
        embed = s2 + self.no_mem_embed.reshape(1, -1, 1, 1)
        high = [dec.conv_s0(s0), dec.conv_s1(s1)]
        pe = self.sam_prompt_encoder.get_dense_pe()
        out = []
        for i in range(len(batch.images)):
            sparse, dense = self.sam_prompt_encoder(*self._prompt(batch.points[i], batch.boxes[i], batch.train_size),
                                                    None)
            up, tokens, _ = dec.decode_tokens(embed[i:i + 1], pe, sparse, dense, [h[i:i + 1] for h in high])
            z, k, w, k_w = bndl.posteriors(up.permute(0, 2, 3, 1), tokens)
            draw = (lambda t: torch.rand(t.shape, generator=generator, device=t.device).clamp(1e-6, 1 - 1e-6))
            logits = bndl.logits(bndl.sample(z, k, draw(z)), bndl.sample(w, k_w, draw(w)))
            if uncertainty:
                with torch.no_grad():
                    sampled = dec.mc_uncertainty(z, k, w, k_w)
                out.append((logits, analytic_uncertainty(bndl, z, k, w, k_w), sampled))
            else:
                out.append((logits,))
        return [torch.cat(parts) for parts in zip(*out)]

    def _to_train_size(self, low_res: torch.Tensor, train_size: int) -> torch.Tensor:
        return F.interpolate(low_res.float(), (train_size, train_size), mode="bilinear", align_corners=False)

    def training_outputs(self, batch: TrainingBatch, *, generator: Optional[torch.Generator] = None,
                         gumbel_tau: float = 0.5) -> TrainingOutputs:
        """Clean single-mask (token 0) logits at ``train_size``; with ``batch.adversarial`` also the attacked
        branch (needs ``batch.masks``, the targets the attack reads and warps)."""
        x = self.training_input(batch.images)
        with torch.no_grad():  # frozen image encoder, as RUAC's freeze_image_encoder
            trunk = self.image_encoder(x)
        (clean,) = self._decode(trunk, batch, generator, uncertainty=False)
        logits = self._to_train_size(clean[:, :1], batch.train_size)
        if not batch.adversarial:
            return TrainingOutputs(logits)
        if batch.masks is None:
            raise ValueError("RUAC's adversarial branch needs the batch's target masks")
        if not hasattr(self, "style_attacker"):
            raise ValueError("RUAC's adversarial branch needs prepare_training() first (it builds the attackers)")
        mask = torch.as_tensor(np.stack(batch.masks), device=x.device)[:, None].float()
        mask = F.interpolate(mask, (self.image_size, self.image_size), mode="nearest")
        adv_x, adv_mask = attack(self.style_attacker, self.deform_attacker, trunk[2], x, mask)
        adv, u_closed, u_sampled = self._decode(self.image_encoder(adv_x), batch, generator, uncertainty=True)
        size = batch.train_size
        return TrainingOutputs(logits, adversarial=AdversarialOutputs(
            logits=self._to_train_size(adv[:, :1], size),
            target=F.interpolate(adv_mask, (size, size), mode="nearest"),
            pixel_logits=adv.max(dim=1).values,
            pixel_target=F.interpolate(adv_mask, adv.shape[-2:], mode="nearest")[:, 0],
            uncertainty_sampled=u_sampled.mean(1),
            uncertainty_analytic=u_closed.mean(1)))
