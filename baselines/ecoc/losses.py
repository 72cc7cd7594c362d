"""The ECOC training loss of Woof6/ECOCSeg (``mmseg/models/losses/cross_entropy_loss.py``,
``ecoc_entropy``): three terms on bit logits z (B, K, H, W) and 0/1 bit targets b, each weighted per pixel
(0 on ignored pixels) and averaged over all elements, summed with weights as the code returns them:

* bit-wise binary cross-entropy on sigmoid(z) (weight 1; ``+1e-4`` inside the logs, as the code);
* lambda1 = 5: cosine loss ``1 - cos(z, 2b - 1)`` over the K bits;
* lambda2 = 2: code-level contrastive loss ``-log(exp(cos(z, 2b-1)/tau) / sum_c exp(cos(z, 2m_c-1)/tau))``
  over the N codewords m_c, tau = 0.5.

The paper names lambda1 = 5, lambda2 = 2, tau = 0.5 (Sec. 5, "ECOCSeg Parameters")."""
from __future__ import annotations

import torch
from torch.nn import functional as F

LAMBDA_COS = 5.0
LAMBDA_CLS = 2.0
TAU = 0.5
IGNORE_INDEX = 255


def code_targets(labels: torch.Tensor, codebook: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, H, W) class ids -> (B, K, H, W) 0/1 bit targets and the (B, H, W) valid mask (not ignore)."""
    valid = labels != IGNORE_INDEX
    safe = torch.where(valid, labels, torch.zeros_like(labels))
    bits = codebook.to(torch.float32)[safe].permute(0, 3, 1, 2)
    return bits * valid[:, None], valid


def ecoc_loss(logits: torch.Tensor, bits: torch.Tensor, weight: torch.Tensor, codebook: torch.Tensor,
              tau: float = TAU) -> torch.Tensor:
    """``weight`` (B, H, W): per-pixel weight (1 on labelled pixels, the pseudo-label weight on target
    pixels, 0 on ignored ones)."""
    w = weight[:, None]
    p = torch.sigmoid(logits)
    bce = (-w * (bits * torch.log(p + 1e-4) + (1 - bits) * torch.log(1 - p + 1e-4))).mean()
    signed = 2 * bits - 1
    cos_t = F.cosine_similarity(logits, signed, dim=1)  # (B, H, W)
    codes = (2 * codebook.to(logits.dtype) - 1)[None, :, :, None, None]  # (1, N, K, 1, 1)
    cos_all = F.cosine_similarity(logits[:, None], codes, dim=2)  # (B, N, H, W)
    cls = (weight * -(cos_t / tau - torch.logsumexp(cos_all / tau, dim=1))).mean()
    cos = (weight * (1 - cos_t)).mean()
    return LAMBDA_COS * cos + LAMBDA_CLS * cls + bce
