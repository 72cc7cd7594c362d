"""ECOC codebooks: one K-bit codeword per class, chosen so that codewords are far apart in Hamming
distance (a decoder then tolerates up to floor((d_min - 1) / 2) flipped bits).

Construction, as the authors' ``ECOC/ecoc.py`` does it: draw ``trials`` codebooks of N codewords with
independent uniform bits and keep the one with the largest minimum pairwise Hamming distance (the first
such one). The authors draw with Python's ``random.getrandbits``; here a numpy generator seeded by
``seed``, so a codebook is a pure function of (N, K, trials, seed). The paper's default ``Mtext`` (a
codebook derived from CLIP text embeddings of the class names) needs CLIP weights and is not built here;
``read_codebook`` takes a codebook from a file instead (e.g. the 19 x 40 matrix the authors' UDA config
lists), checked before use."""
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


#: a codebook file larger than this is refused before it is read (19 x 40 bits as json is about 2 kB)
MAX_CODEBOOK_BYTES = 1 << 20


def read_codebook(path: str, num_classes: int) -> tuple[np.ndarray, str]:
    """An (N, K) uint8 codebook from a json file (a list of N lists of K 0/1 integers) or a ``.npy`` array
    (no pickles), with the sha256 of the bytes it was parsed from: the file is read once, so the digest a
    run records is that of the codebook it trained with, even if the file changes meanwhile. Every problem
    is a ValueError naming the file and what is valid: wrong row count, ragged rows, values other than 0
    and 1 (booleans and floats too), repeated codewords."""
    import hashlib
    import io
    import json
    import os
    import stat

    try:
        st = os.stat(path)
    except OSError as e:
        raise ValueError(f"codebook file {path}: cannot be read ({e.strerror})") from None
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_CODEBOOK_BYTES:
        raise ValueError(f"codebook file {path}: must be a regular file of at most {MAX_CODEBOOK_BYTES} bytes")
    with open(path, "rb") as f:
        data = f.read(MAX_CODEBOOK_BYTES + 1)
    if len(data) > MAX_CODEBOOK_BYTES:
        raise ValueError(f"codebook file {path}: must be a regular file of at most {MAX_CODEBOOK_BYTES} bytes")
    if str(path).endswith(".npy"):
        try:
            rows = np.load(io.BytesIO(data), allow_pickle=False)
        except Exception as e:  # noqa: BLE001 - a pickle, a truncated or foreign file
            raise ValueError(f"codebook file {path}: not a numpy array without pickles ({type(e).__name__})") from None
        ok = rows.ndim == 2 and rows.dtype.kind in "iub" and rows.dtype.kind != "b"
        rows = rows.tolist() if ok else None
    else:
        try:
            rows = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"codebook file {path}: not json ({e})") from None
    valid = "a list of N lists of K integers 0 or 1, N the number of classes"
    if not isinstance(rows, list) or not rows or not all(isinstance(r, list) and r for r in rows):
        raise ValueError(f"codebook file {path}: must be {valid}")
    if len(rows) != num_classes or len({len(r) for r in rows}) != 1:
        raise ValueError(f"codebook file {path}: {len(rows)} rows of lengths {sorted({len(r) for r in rows})}; "
                         f"must be {num_classes} rows of one length")
    if not all(type(v) is int and v in (0, 1) for r in rows for v in r):
        raise ValueError(f"codebook file {path}: must be {valid} (found another value)")
    code = np.array(rows, dtype=np.uint8)
    if len({r.tobytes() for r in code}) != num_classes:
        raise ValueError(f"codebook file {path}: two classes share a codeword; every row must differ")
    return code, hashlib.sha256(data).hexdigest()
