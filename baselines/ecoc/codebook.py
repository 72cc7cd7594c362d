"""ECOC codebooks: one K-bit codeword per class, chosen so that codewords are far apart in Hamming
distance (a decoder then tolerates up to floor((d_min - 1) / 2) flipped bits).

Construction, as the authors' ``ECOC/ecoc.py`` does it: draw ``trials`` codebooks of N codewords with
independent uniform bits and keep the one with the largest minimum pairwise Hamming distance (the first
such one). The authors draw with Python's ``random.getrandbits``; here a numpy generator seeded by
``seed``, so a codebook is a pure function of (N, K, trials, seed). The paper's default ``Mtext`` (a
codebook derived from CLIP text embeddings of the class names) needs CLIP weights and is not built here."""
from __future__ import annotations

import numpy as np

#: codeword length the paper uses for Cityscapes' 19 classes and Pascal VOC (K = 60 for COCO)
DEFAULT_BITS = 40
#: random codebooks tried by the authors' search loop
DEFAULT_TRIALS = 100_000


def pairwise_hamming(codes: np.ndarray) -> np.ndarray:
    """(..., N, K) 0/1 codewords -> (..., N, N) Hamming distances."""
    c = codes.astype(np.int32)
    return c.shape[-1] - (c @ np.swapaxes(c, -1, -2) + (1 - c) @ np.swapaxes(1 - c, -1, -2))


def min_distance(codes: np.ndarray) -> np.ndarray:
    """Minimum Hamming distance between distinct codewords, per codebook of a (..., N, K) stack."""
    d = pairwise_hamming(codes)
    n = codes.shape[-2]
    d = np.where(np.eye(n, dtype=bool), np.iinfo(np.int32).max, d)
    return d.min(axis=(-1, -2))


def random_codebook(num_classes: int, bits: int = DEFAULT_BITS, *, trials: int = DEFAULT_TRIALS, seed: int = 0,
                    batch: int = 2048) -> np.ndarray:
    """(N, K) uint8 codebook with the largest minimum distance among ``trials`` random ones."""
    if num_classes < 2 or bits < 1 or trials < 1:
        raise ValueError(f"need num_classes >= 2, bits >= 1, trials >= 1; got {num_classes}, {bits}, {trials}")
    if num_classes > 2 ** bits:
        raise ValueError(f"{num_classes} classes cannot have distinct {bits}-bit codewords")
    rng = np.random.default_rng(np.random.SeedSequence([seed, num_classes, bits, 0xEC0C]))
    best, best_d = None, -1
    for start in range(0, trials, batch):
        stack = rng.integers(0, 2, size=(min(batch, trials - start), num_classes, bits), dtype=np.uint8)
        d = min_distance(stack)
        i = int(np.argmax(d))
        if d[i] > best_d:
            best, best_d = stack[i], int(d[i])
    return best


def one_hot_codebook(num_classes: int) -> np.ndarray:
    """The identity code: ECOC with K = N and d_min = 2 is the usual one-vs-rest sigmoid head."""
    return np.eye(num_classes, dtype=np.uint8)
