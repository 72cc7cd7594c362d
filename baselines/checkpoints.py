"""Safe checkpoint loading: no pickle code execution, optional published-hash check, strict key matching.

Only ``torch.load(weights_only=True)`` and safetensors are used, so a checkpoint cannot run code. Every
error names the file and what is wrong (missing/unexpected keys, shape mismatches, hash mismatch)."""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

PREFIXES = ("module.",)  # added by DataParallel/DDP when a model was saved while wrapped
NESTED_KEYS = ("model", "state_dict")  # wrappers used by SAM 2 ("model") and many training scripts


class CheckpointError(ValueError):
    """A checkpoint file cannot be used for the model; the message says which file and why."""


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_digest(path: str | Path, *, sha256: str | None = None, md5: str | None = None) -> None:
    """Raise CheckpointError when a published hash is given and does not match (md5 may be a prefix,
    as SAM's file names carry the first 6 hex digits of the MD5)."""
    if sha256:
        got = file_digest(path, "sha256")
        if got != sha256.lower():
            raise CheckpointError(f"{path}: sha256 {got} does not match the published {sha256}")
    if md5:
        got = file_digest(path, "md5")
        if not got.startswith(md5.lower()):
            raise CheckpointError(f"{path}: md5 {got} does not match the published {md5}")


def read_state_dict(path: str | Path, *, sha256: str | None = None, md5: str | None = None) -> dict:
    """Tensors of a ``.pth``/``.pt`` (weights only) or ``.safetensors`` file, unwrapped and de-prefixed."""
    import torch

    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint file not found: {p}")
    verify_digest(p, sha256=sha256, md5=md5)
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            sd = load_file(str(p), device="cpu")
        except Exception as e:  # truncated file, bad header, not a safetensors file
            raise CheckpointError(f"{p}: not a valid safetensors file: {type(e).__name__}: {e}") from e
    else:
        try:
            sd = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as e:  # pickle with code, truncated file, not a torch file
            raise CheckpointError(f"{p}: cannot be loaded with torch.load(weights_only=True): "
                                  f"{type(e).__name__}: {e}") from e
    return normalize_state_dict(sd, where=str(p))


def normalize_state_dict(sd, where: str = "checkpoint") -> dict:
    """Unwrap ``{"model": ...}``/``{"state_dict": ...}`` and strip ``module.`` prefixes."""
    if not isinstance(sd, Mapping):
        raise CheckpointError(f"{where}: expected a dict of tensors, got {type(sd).__name__}")
    for k in NESTED_KEYS:
        if k in sd and isinstance(sd[k], Mapping):
            sd = sd[k]
            break
    out = {}
    for k, v in sd.items():
        for pre in PREFIXES:
            if k.startswith(pre):
                k = k[len(pre):]
        out[k] = v
    return out


def _preview(keys: list[str], n: int = 8) -> str:
    more = f" ... (+{len(keys) - n} more)" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def load_into(module, sd: Mapping, where: str = "checkpoint", ignore_prefixes: tuple[str, ...] = ()) -> None:
    """Strictly load ``sd`` into ``module``: any missing key, unexpected key or shape mismatch is an error
    listing the offending names. ``ignore_prefixes`` drops training-only keys a release is known to carry."""
    own = module.state_dict()
    sd = {k: v for k, v in sd.items() if not k.startswith(ignore_prefixes)} if ignore_prefixes else dict(sd)
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    bad_shape = sorted(f"{k} {tuple(sd[k].shape)} != {tuple(own[k].shape)}"
                       for k in set(own) & set(sd) if tuple(sd[k].shape) != tuple(own[k].shape))
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys: {_preview(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys: {_preview(unexpected)}")
    if bad_shape:
        problems.append(f"{len(bad_shape)} shape mismatches (checkpoint != model): {_preview(bad_shape)}")
    if problems:
        raise CheckpointError(f"{where} does not fit {type(module).__name__}: " + "; ".join(problems))
    module.load_state_dict(sd, strict=True)


def load_checkpoint(module, path: str | Path, *, sha256: str | None = None, md5: str | None = None,
                    ignore_prefixes: tuple[str, ...] = ()) -> str:
    """Read, verify and strictly load a checkpoint file; return its sha256 (recorded with results)."""
    sd = read_state_dict(path, sha256=sha256, md5=md5)
    load_into(module, sd, where=str(path), ignore_prefixes=ignore_prefixes)
    return sha256.lower() if sha256 else file_digest(path, "sha256")
