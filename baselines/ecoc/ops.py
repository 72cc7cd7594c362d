"""Code-distance decoding, reliable bit mining (the paper's Algorithm 1) and hybrid pseudo-labels, on
torch tensors shaped like the authors' (bit logits (B, K, H, W), codebook (N, K) of 0/1).

Facts from Woof6/ECOCSeg: decoding is the "soft Hamming" of ``decode_head.py``: class similarity
``sum_k c_k p_k + (1 - c_k)(1 - p_k)`` with ``p = sigmoid(logits)``, i.e. K minus the L1 distance between
bit probabilities and the codeword; bit confidence is ``0.5 + |p - 0.5|``; mining walks the top-8 classes
(``top_k = 8`` in ``DACS_ecoc.cal_score``) with threshold T = 0.95 (config ``threshold``)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

#: candidate classes Algorithm 1 walks through (``top_k`` in the authors' ``cal_score``)
MINING_CANDIDATES = 8
#: confidence threshold T of Algorithm 1 (paper Sec. 5 and the config's ``threshold``)
MINING_THRESHOLD = 0.95


def soft_distance(probs: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """(B, K, H, W) bit probabilities, (N, K) codebook -> (B, N, H, W) soft Hamming (L1) distances."""
    c = codebook.to(probs.dtype)
    # |p - c| = p (1 - c) + (1 - p) c, summed over bits; einsum keeps the (B, N, K, H, W) product implicit
    return torch.einsum("bkhw,nk->bnhw", probs, 1 - c) + torch.einsum("bkhw,nk->bnhw", 1 - probs, c)


def decode(logits: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Class per pixel: the codeword nearest to the bit probabilities. (B, K, H, W) -> (B, H, W)."""
    return soft_distance(torch.sigmoid(logits), codebook).argmin(dim=1)


@dataclass
class MinedBits:
    """Per pixel: the class-level pseudo-label, its confidence (mean bit confidence of its codeword, the
    authors' ``pseudo_prob``), and the 0/1 mask of reliable bits."""

    label: torch.Tensor  # (B, H, W) long
    confidence: torch.Tensor  # (B, H, W)
    reliable: torch.Tensor  # (B, K, H, W) float 0/1


def mine_reliable_bits(logits: torch.Tensor, codebook: torch.Tensor, threshold: float = MINING_THRESHOLD,
                       candidates: int = MINING_CANDIDATES) -> MinedBits:
    """Algorithm 1. Sort classes by code distance; for n = 1, 2, ... take the bits on which the n nearest
    codewords all agree (the shared part), and their mean confidence; stop at the first n whose mean
    exceeds ``threshold`` (an empty shared part counts as confidence 1, i.e. it stops with no reliable bit,
    the paper's ``M_i = {0}^K`` exit). Those shared bits are the reliable ones. A pixel that never passes
    within ``candidates`` classes has no reliable bit (as the authors' code; the paper's loop runs to N)."""
    probs = torch.sigmoid(logits)
    conf = 0.5 + (probs - 0.5).abs()
    n = min(candidates, codebook.shape[0])
    order = soft_distance(probs, codebook).argsort(dim=1)[:, :n]  # (B, n, H, W), nearest first
    codes = codebook.to(torch.bool)[order].permute(0, 1, 4, 2, 3)  # (B, n, K, H, W)
    shared = torch.ones_like(codes[:, 0])
    reliable = torch.zeros_like(probs)
    done = torch.zeros_like(probs[:, 0], dtype=torch.bool)
    top_conf = None
    for i in range(n):
        shared = shared & (codes[:, i] == codes[:, 0])
        count = shared.sum(dim=1)
        mean = torch.where(count > 0, (conf * shared).sum(dim=1) / count.clamp(min=1), torch.ones_like(conf[:, 0]))
        if top_conf is None:
            top_conf = mean
        stop = (mean > threshold) & ~done
        reliable = torch.where(stop[:, None], shared.to(probs.dtype), reliable)
        done = done | stop
    return MinedBits(order[:, 0], top_conf, reliable)


def hybrid_targets(logits: torch.Tensor, codebook: torch.Tensor, mined: MinedBits) -> torch.Tensor:
    """Bit targets for unlabelled pixels (authors' ``ecoc_entropy``, ``label_target``): reliable bits take
    the code-level pseudo-label (the codeword of the mined class), the others the bit-level pseudo-label
    (the teacher's own bit, ``logits >= 0``). (B, K, H, W) float 0/1."""
    code = codebook.to(logits.dtype)[mined.label].permute(0, 3, 1, 2)
    bits = (logits >= 0).to(logits.dtype)
    return mined.reliable * code + (1 - mined.reliable) * bits
