"""Resumable training state and final weights, written atomically without pickle.

A checkpoint is a folder ``checkpoints/step-<n>/`` with ``state.safetensors`` (trainable tensors, their
buffers, Adam moments) and ``state.json`` (step, grad-scaler numbers); it is written under a temporary
name and renamed, then ``checkpoints/latest.json`` is replaced to point at it. A kill at any moment leaves
the previous checkpoint usable. The data order and every random draw are functions of (seed, step), so
the step number is the whole RNG state."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional

import torch
from safetensors.torch import load_file, save_file

from ..errors import BadInputError
from ..jobs import atomic_write_json, read_state, temp_path_for

LATEST = "latest.json"


def trainable_state(model, names: set[str]) -> dict:
    """Tensors of ``model.state_dict()`` owned by the trainable parts (parameters and, e.g., BatchNorm
    running statistics of the same modules)."""
    return {k: v for k, v in model.state_dict().items() if k in names}


def _cpu(sd: dict) -> dict:
    return {k: v.detach().to("cpu").contiguous() for k, v in sd.items()}


def save_weights(model, path: Path) -> None:
    """The full state dict as safetensors (what ``create_model(..., checkpoint=path)`` loads)."""
    tmp = temp_path_for(path)
    try:
        save_file(_cpu(model.state_dict()), str(tmp))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_checkpoint(ckpt_dir: Path, step: int, model, state_names: set[str], optimizer, param_names: list[str],
                    scaler, extra: Optional[dict] = None) -> Path:
    """``extra``: tensors a family's training holds outside the model (e.g. an EMA teacher), under extra/."""
    tensors = {f"model/{k}": v for k, v in trainable_state(model, state_names).items()}
    tensors.update({f"extra/{k}": v for k, v in (extra or {}).items()})
    for i, st in optimizer.state_dict()["state"].items():
        for key, v in st.items():
            tensors[f"optim/{param_names[i]}/{key}"] = v if torch.is_tensor(v) else torch.tensor(v)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    final = ckpt_dir / f"step-{step:08d}"
    tmp = Path(tempfile.mkdtemp(dir=ckpt_dir, prefix=f".{final.name}.", suffix=".tmp"))
    try:
        save_file(_cpu(tensors), str(tmp / "state.safetensors"))
        scale = scaler.state_dict() if scaler.is_enabled() else {}
        (tmp / "state.json").write_text(json.dumps({"step": step, "scaler": scale}, sort_keys=True))
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic_write_json(ckpt_dir / LATEST, {"step": step, "dir": final.name})
    for old in ckpt_dir.glob("step-*"):  # only the latest is kept; earlier ones are now redundant
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    for stale in ckpt_dir.glob(".step-*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    return final


def latest_step(ckpt_dir: Path) -> Optional[int]:
    info = read_state(ckpt_dir / LATEST)  # empty or corrupt counts as absent: the run starts over
    ok = info is not None and isinstance(info.get("step"), int) and isinstance(info.get("dir"), str)
    return info["step"] if ok else None


def load_checkpoint_state(ckpt_dir: Path, model, state_names: set[str], optimizer, param_names: list[str],
                          scaler, device, load_extra=None) -> int:
    """Restore the latest checkpoint into model/optimizer/scaler; return its step. Every mismatch (a tensor
    missing or extra) is an error naming the file."""
    info = read_state(ckpt_dir / LATEST) or {}
    folder = ckpt_dir / str(info.get("dir"))
    path = folder / "state.safetensors"
    try:
        tensors = load_file(str(path), device=str(device))
    except Exception as e:
        raise BadInputError(f"{path}: cannot read training state: {e}") from e
    model_sd = {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}
    if set(model_sd) != state_names:
        missing, extra = sorted(state_names - set(model_sd)), sorted(set(model_sd) - state_names)
        raise BadInputError(f"{path}: does not fit this model (missing {missing[:5]}, unexpected {extra[:5]})")
    model.load_state_dict(model_sd, strict=False)
    if load_extra is not None:
        load_extra({k[len("extra/"):]: v for k, v in tensors.items() if k.startswith("extra/")})
    index = {n: i for i, n in enumerate(param_names)}
    state: dict = {}
    for k, v in tensors.items():
        if k.startswith("optim/"):
            name, key = k[len("optim/"):].rsplit("/", 1)
            if name not in index:
                raise BadInputError(f"{path}: optimizer state for unknown parameter {name!r}")
            state.setdefault(index[name], {})[key] = v.cpu() if key == "step" else v
    optimizer.load_state_dict({"state": state, "param_groups": optimizer.state_dict()["param_groups"]})
    meta = read_state(folder / "state.json")
    if meta is None or not isinstance(meta.get("step"), int):
        raise BadInputError(f"{folder / 'state.json'}: missing or corrupt; delete {folder} and "
                            f"{ckpt_dir / LATEST} to start the run over")
    if meta.get("scaler"):
        scaler.load_state_dict(meta["scaler"])
    return int(meta["step"])
