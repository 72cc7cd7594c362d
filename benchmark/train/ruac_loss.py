"""RUAC's loss on the attacked branch: the segmentation loss of the attacked image against the warped target,
plus lambda times the uncertainty-accuracy alignment L_cal_sym. The attackers sit behind a gradient
reversal, so the same scalar the model descends is ascended by them (paper Eq. 7, one backward pass).

L_cal_sym (paper Eq. 5 with RUAC's dual stop-gradient mirror term), per pixel of the decoder's resolution,
with e = |sigmoid(pixel logit) - target| and u the uncertainty, both in [0, 1]:

    L1 = e exp(-sg[u_sampled]) + (1 - e) exp(sg[u_sampled])      error is pushed down where u is low
    L2 = sg[e] exp(-u_closed) + (1 - sg[e]) exp(u_closed)        u is pushed up where the error is high

L_cal_sym = mean(L1) + l2_weight * mean(L2). The stop-gradients block the shortcuts the paper names: raising
u everywhere (u moves only through L2, where it is weighed by the observed error) and an attacker gaming u
instead of producing hard inputs. Facts from HongyouZhou/ruac@c2d107d ``core/losses/aue.py``; code ours."""
from __future__ import annotations

import torch

from .losses import segmentation_loss


def alignment_loss(pixel_logits: torch.Tensor, target: torch.Tensor, u_sampled: torch.Tensor,
                   u_closed: torch.Tensor, l2_weight: float = 1.0) -> torch.Tensor:
    """L_cal_sym over (B, h, w) maps (see the module docstring); float32 scalar."""
    e = (torch.sigmoid(pixel_logits.float()) - target.float().detach()).abs().clamp(0.0, 1.0)
    u_sg = u_sampled.float().detach().clamp(0.0, 1.0)
    l1 = e * torch.exp(-u_sg) + (1 - e) * torch.exp(u_sg)
    e_sg, u = e.detach(), u_closed.float().clamp(0.0, 1.0)
    l2 = e_sg * torch.exp(-u) + (1 - e_sg) * torch.exp(u)
    return l1.mean() + l2_weight * l2.mean()


def adversarial_loss(recipe, adv) -> tuple[torch.Tensor, float, float]:
    """(recipe.adversarial_weight * (L_seg(attacked) + alignment_weight * L_cal_sym), L_seg, L_cal_sym)."""
    seg, _, _ = segmentation_loss(adv.logits, adv.target, recipe)
    cal = alignment_loss(adv.pixel_logits, adv.pixel_target, adv.uncertainty_sampled, adv.uncertainty_analytic,
                         recipe.alignment_l2_weight)
    total = recipe.adversarial_weight * (seg + recipe.alignment_weight * cal)
    return total, float(seg.detach()), float(cal.detach())
