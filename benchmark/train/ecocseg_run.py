"""``robustseg train ecocseg``: ECOCSeg's DACS-style self-training of a SegFormer from a labelled source
build (e.g. ``gta5``) to an unlabelled target build (e.g. ``cityscapes-semantic``; its labels are never read).

Defaults are the paper's UDA setting (Sec. 5) unless named otherwise: 40k iterations, batch 2, 512x512
random crops, AdamW lr 6e-5 for the encoder and 10x for the decoder (config ``head=dict(lr_mult=10.0)``),
weight decay 0.01, linear warm-up over 1.5k iterations then linear (poly, power 1) decay (``poly10warm``),
MiT-B5, K = 40 bits; EMA 0.999 and the pseudo-label thresholds in ``ecocseg.SelfTrainConfig``. The run
writes ``weights.safetensors`` (the student, loadable with ``--checkpoint`` into ``ecocseg-segformer-<size>``
or ``segformer-<size>``) and ``recipe.json``. Not resumable: a run is one call (see docs/semantic.md)."""
from __future__ import annotations

import copy
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pyarrow.parquet as pq
import torch

from baselines.contract import resolve_device
from baselines.segformer.configs import PIXEL_MEAN, PIXEL_STD
from baselines.segformer.model import build_network

from ..data.schema import decode_image
from ..data.semantic import IGNORE_INDEX, decode_label
from ..jobs import atomic_write_json, load_manifest
from .ecocseg import SelfTrainConfig, ema_update, self_training_loss
from .state import save_weights
from ..errors import BadInputError, UsageError


@dataclass(frozen=True)
class EcocSegRecipe:
    config: str = "b5"
    head: str = "ecoc"
    steps: int = 40_000
    batch_size: int = 2
    crop: int = 512
    lr: float = 6e-5
    head_lr_mult: float = 10.0
    weight_decay: float = 0.01
    warmup: int = 1500
    bits: int = 40
    seed: int = 0
    codebook_trials: int = 100_000


def _rows(dataset_dir: Path, labelled: bool) -> tuple[list, list[str]]:
    """(image bytes, label bytes or None, where) of every row of a semantic build, and its class list."""
    manifest = load_manifest(dataset_dir)
    classes = manifest.get("classes")
    if manifest.get("task") != "semantic" or not isinstance(classes, list):
        raise BadInputError(f"{dataset_dir}: not a semantic dataset (build it with a semantic source)")
    rows = []
    for rel in sorted(manifest["files"]):
        path = (dataset_dir / rel).resolve()
        if dataset_dir.resolve() not in path.parents:
            raise BadInputError(f"{dataset_dir}/manifest.json: file {rel!r} lies outside the dataset folder")
        for r in pq.read_table(path, columns=["image", "label", "image_id"]).to_pylist():
            rows.append((r["image"]["bytes"], r["label"]["bytes"] if labelled else None, f"{path} {r['image_id']}"))
    if not rows:
        raise BadInputError(f"{dataset_dir}: no rows")
    return rows, classes


def _crop(image: np.ndarray, label: np.ndarray, size: int, rng: np.random.Generator):
    """A random size x size crop; smaller images are padded (label: ignore) first."""
    h, w = label.shape
    ph, pw = max(0, size - h), max(0, size - w)
    if ph or pw:
        image = np.pad(image, ((0, ph), (0, pw), (0, 0)))
        label = np.pad(label, ((0, ph), (0, pw)), constant_values=IGNORE_INDEX)
    y, x = rng.integers(0, label.shape[0] - size + 1), rng.integers(0, label.shape[1] - size + 1)
    return image[y:y + size, x:x + size], label[y:y + size, x:x + size]


def _batch(rows, n: int, size: int, rng: np.random.Generator, num_classes: int):
    imgs, labs = [], []
    for i in rng.integers(0, len(rows), n):
        data, lab_bytes, where = rows[i]
        img = decode_image(data, where)
        lab = decode_label(lab_bytes, where, num_classes) if lab_bytes is not None else \
            np.full(img.shape[:2], IGNORE_INDEX, np.uint8)
        img, lab = _crop(img, lab, size, rng)
        imgs.append(img)
        labs.append(lab)
    x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float()
    x = (x - torch.tensor(PIXEL_MEAN).view(1, 3, 1, 1)) / torch.tensor(PIXEL_STD).view(1, 3, 1, 1)
    return x, torch.from_numpy(np.stack(labs)).long()


def lr_factor(step: int, recipe: EcocSegRecipe) -> float:
    """Linear warm-up from 1e-6 (mmcv's warmup_ratio) to 1, then linear decay to 0 (poly, power 1)."""
    if step < recipe.warmup:
        return 1e-6 + (1 - 1e-6) * step / recipe.warmup
    return max(0.0, 1 - step / recipe.steps)


def train_ecocseg(source_dir: str | os.PathLike, target_dir: str | os.PathLike, out: str | os.PathLike,
                  recipe: EcocSegRecipe = EcocSegRecipe(), device: str = "cpu",
                  progress: Optional[Callable[[int, float], None]] = None) -> Path:
    """Self-train and return the path of ``weights.safetensors``. ``out`` must be empty or new."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise BadInputError(f"{out} is not empty; use a new folder for a training run")
    src_rows, classes = _rows(Path(source_dir), labelled=True)
    tgt_rows, tgt_classes = _rows(Path(target_dir), labelled=False)
    if tgt_classes != classes:
        raise BadInputError(f"source classes {classes[:3]}... and target classes {tgt_classes[:3]}... differ")
    device = resolve_device(device)
    torch.manual_seed(recipe.seed)
    net = build_network(recipe.config, len(classes), recipe.head, recipe.bits, recipe.seed, recipe.codebook_trials)
    net.to(device).train()
    codebook = getattr(net, "code_book", None)
    teacher = copy.deepcopy(net)
    teacher.train(False)  # the teacher only predicts
    head_params = list(net.decode_head.parameters())
    ids = {id(p) for p in head_params}
    opt = torch.optim.AdamW([{"params": [p for p in net.parameters() if id(p) not in ids], "lr": recipe.lr},
                             {"params": head_params, "lr": recipe.lr * recipe.head_lr_mult}],
                            weight_decay=recipe.weight_decay)
    base = [g["lr"] for g in opt.param_groups]
    cfg = SelfTrainConfig(head=recipe.head)
    rng, gen = np.random.default_rng(recipe.seed), torch.Generator().manual_seed(recipe.seed)
    for step in range(recipe.steps):
        for g, lr in zip(opt.param_groups, base):
            g["lr"] = lr * lr_factor(step, recipe)
        xs, ys = _batch(src_rows, recipe.batch_size, recipe.crop, rng, len(classes))
        xt, _ = _batch(tgt_rows, recipe.batch_size, recipe.crop, rng, len(classes))
        opt.zero_grad()
        loss = self_training_loss(net, teacher, xs.to(device), ys.to(device), xt.to(device), cfg, codebook, gen)
        loss.backward()
        opt.step()
        ema_update(teacher, net, cfg.ema_alpha)
        if progress:
            progress(step + 1, float(loss))
    out.mkdir(parents=True, exist_ok=True)
    save_weights(net, out / "weights.safetensors")
    atomic_write_json(out / "recipe.json", asdict(recipe) | {"self_training": asdict(cfg), "classes": classes,
                                                             "source": str(source_dir), "target": str(target_dir)})
    return out / "weights.safetensors"


def train_ecocseg_with(source_dir: str | os.PathLike, target_dir: Optional[str | os.PathLike],
                       out: str | os.PathLike, device: str = "cpu", **overrides) -> Path:
    """``train_ecocseg`` with the recipe's defaults replaced by the ``overrides`` that are not None (what
    ``robustseg train ecocseg`` passes: config, steps, batch_size, crop, lr, seed)."""
    if not target_dir:
        raise UsageError("train ecocseg needs --target-dataset DIR (the unlabelled target build)")
    recipe = EcocSegRecipe(**{k: v for k, v in overrides.items() if v is not None})
    return train_ecocseg(source_dir, target_dir, out, recipe, device=device)

