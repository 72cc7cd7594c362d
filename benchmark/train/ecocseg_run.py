"""``robustseg train ecocseg``: ECOCSeg's DACS-style self-training of a SegFormer from a labelled source
build (e.g. ``gta5``) to an unlabelled target build (e.g. ``cityscapes-semantic``; its labels are never read).

Defaults are the paper's UDA setting (Sec. 5) unless named otherwise: 40k iterations, batch 2, 512x512
random crops, AdamW lr 6e-5 for the encoder and 10x for the decoder (config ``head=dict(lr_mult=10.0)``),
weight decay 0.01, linear warm-up over 1.5k iterations then linear (poly, power 1) decay (``poly10warm``),
MiT-B5, K = 40 bits; EMA 0.999 and the pseudo-label thresholds in ``ecocseg.SelfTrainConfig``. The run
writes ``weights.safetensors`` (the student, loadable with ``--checkpoint`` into ``ecocseg-segformer-<size>``
or ``segformer-<size>``), ``recipe.json``, ``log.csv`` and ``checkpoints/`` (student, EMA teacher and AdamW
state, in the SAM recipes' format of ``state.py``); rerunning the same command resumes bit-exactly."""
from __future__ import annotations

import copy
import csv
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
from ..jobs import atomic_write_json, folder_lock, load_manifest
from .data import train_rng
from .ecocseg import SelfTrainConfig, ema_alpha, ema_update, self_training_loss
from .loop import prepare_run_folder, read_log, step_generator
from .state import load_checkpoint_state, save_checkpoint, save_weights
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


LOG_FIELDS = ("step", "loss", "lr")
#: where each default of ``EcocSegRecipe`` comes from (written to the run's train.json)
SOURCES = {
    "steps, batch_size, crop": "paper Sec. 5 (UDA: 40k iterations, batch 2, 512x512 crops)",
    "lr, head_lr_mult, weight_decay, warmup": "authors' config (AdamW 6e-5, head lr_mult 10, wd 0.01, poly10warm 1.5k)",
    "config, bits": "paper Sec. 5 (MiT-B5, K = 40)",
    "ema_alpha, pseudo_threshold, mining": "benchmark/train/ecocseg.py SelfTrainConfig",
}


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


@dataclass
class _Run:
    """What a step changes and a checkpoint holds: the student, the EMA teacher and AdamW's moments, saved
    through the SAM recipes' state files (``state.py``) as one module pair."""

    pair: torch.nn.ModuleDict  # {"student": ..., "teacher": ...}
    optimizer: torch.optim.Optimizer
    param_names: list  # the optimizer's parameters, in its order, as state_dict keys of ``pair``
    scaler: torch.amp.GradScaler  # disabled: float32 only; kept for the shared checkpoint format
    device: str

    def save(self, ckpt_dir: Path, step: int) -> None:
        save_checkpoint(ckpt_dir, step, self.pair, set(self.pair.state_dict()), self.optimizer, self.param_names,
                        self.scaler)

    def restore(self, ckpt_dir: Path) -> int:
        return load_checkpoint_state(ckpt_dir, self.pair, set(self.pair.state_dict()), self.optimizer,
                                     self.param_names, self.scaler, self.device)


def _session(recipe: EcocSegRecipe, num_classes: int, device: str) -> _Run:
    torch.manual_seed(recipe.seed)
    net = build_network(recipe.config, num_classes, recipe.head, recipe.bits, recipe.seed, recipe.codebook_trials)
    teacher = copy.deepcopy(net)  # DACS's _init_ema_weights: the teacher starts as the student
    pair = torch.nn.ModuleDict({"student": net, "teacher": teacher}).to(device)
    net.train()
    teacher.train(False)  # the teacher only predicts (dropout off, as DACS's EMA model)
    head = {id(p) for p in net.decode_head.parameters()}
    named = [(f"student.{n}", p) for n, p in net.named_parameters()]
    groups = [[(n, p) for n, p in named if id(p) not in head], [(n, p) for n, p in named if id(p) in head]]
    opt = torch.optim.AdamW([{"params": [p for _, p in g], "lr": lr} for g, lr in
                             zip(groups, (recipe.lr, recipe.lr * recipe.head_lr_mult))], weight_decay=recipe.weight_decay)
    return _Run(pair, opt, [n for g in groups for n, _ in g], torch.amp.GradScaler("cpu", enabled=False), device)


def _fingerprint(dataset_dir: Path) -> str:
    return str(load_manifest(dataset_dir).get("fingerprint", ""))


def train_ecocseg(source_dir: str | os.PathLike, target_dir: str | os.PathLike, out: str | os.PathLike,
                  recipe: EcocSegRecipe = EcocSegRecipe(), device: str = "cpu",
                  progress: Optional[Callable[[int, float], None]] = None, *, resume: bool = True,
                  save_every: int = 500, progress_bar: bool = False) -> Path:
    """Self-train and return the path of ``weights.safetensors``. Rerunning with the same arguments resumes
    from the latest checkpoint in ``out`` and ends with the same weights as an uninterrupted run: every
    random draw of step s (crops, ClassMix, dropout) is a function of (seed, s)."""
    out = Path(out)
    if save_every < 1:
        raise UsageError(f"save_every ({save_every}) must be >= 1")
    src_rows, classes = _rows(Path(source_dir), labelled=True)
    tgt_rows, tgt_classes = _rows(Path(target_dir), labelled=False)
    if tgt_classes != classes:
        raise BadInputError(f"source classes {classes[:3]}... and target classes {tgt_classes[:3]}... differ")
    device = resolve_device(device)
    run = _session(recipe, len(classes), device)
    cfg = SelfTrainConfig(head=recipe.head)
    identity = {"model": "ecocseg", "recipe": asdict(recipe), "self_training": asdict(cfg),
                "source_fingerprint": _fingerprint(Path(source_dir)),
                "target_fingerprint": _fingerprint(Path(target_dir))}
    out.mkdir(parents=True, exist_ok=True)
    with folder_lock(out, "train.lock"):
        start = prepare_run_folder(out, identity, SOURCES, resume, run.restore)
        _steps(run, recipe, cfg, (src_rows, tgt_rows, len(classes)), start, out, progress, save_every, progress_bar)
        save_weights(run.pair["student"], out / "weights.safetensors")
        atomic_write_json(out / "recipe.json", asdict(recipe) | {"self_training": asdict(cfg), "classes": classes,
                                                                 "source": str(source_dir), "target": str(target_dir)})
    return out / "weights.safetensors"


def _steps(run: _Run, recipe: EcocSegRecipe, cfg: SelfTrainConfig, data: tuple, start: int, out: Path,
           progress, save_every: int, progress_bar: bool) -> None:
    """Steps start+1..recipe.steps, each logged to log.csv, a checkpoint every ``save_every`` steps, at the
    end, and on Ctrl-C/SIGTERM (the finished steps are kept)."""
    from tqdm.auto import tqdm

    src_rows, tgt_rows, num_classes = data
    net, teacher, opt = run.pair["student"], run.pair["teacher"], run.optimizer
    codebook = getattr(net, "code_book", None)
    dev = next(net.parameters()).device
    base = [recipe.lr, recipe.lr * recipe.head_lr_mult]
    ckpt_dir, log_path = out / "checkpoints", out / "log.csv"
    kept = read_log(log_path, start)
    saved = done = start
    with open(log_path, "w", newline="") as log_file, \
            tqdm(total=recipe.steps, initial=start, desc="train ecocseg", unit="step", disable=not progress_bar) as bar:
        writer = csv.DictWriter(log_file, fieldnames=LOG_FIELDS)
        writer.writeheader()
        writer.writerows(kept)
        try:
            for step in range(start + 1, recipe.steps + 1):
                lr = lr_factor(step - 1, recipe)
                for g, b in zip(opt.param_groups, base):
                    g["lr"] = b * lr
                rng = train_rng(recipe.seed, "ecocseg", step)
                xs, ys = _batch(src_rows, recipe.batch_size, recipe.crop, rng, num_classes)
                xt, _ = _batch(tgt_rows, recipe.batch_size, recipe.crop, rng, num_classes)
                opt.zero_grad()
                with torch.random.fork_rng(devices=[]):  # dropout draws from (seed, step), not from the past
                    torch.manual_seed(int(train_rng(recipe.seed, "ecocseg-dropout", step).integers(2**62)))
                    loss = self_training_loss(net, teacher, xs.to(dev), ys.to(dev), xt.to(dev), cfg, codebook,
                                              step_generator(recipe.seed, step, "cpu"))
                loss.backward()
                opt.step()
                loss = float(loss.detach())
                ema_update(teacher, net, ema_alpha(step, cfg.ema_alpha))
                done = step
                writer.writerow({"step": step, "loss": loss, "lr": base[0] * lr})
                log_file.flush()
                bar.update(1)
                if step % save_every == 0 or step == recipe.steps:
                    run.save(ckpt_dir, step)
                    saved = step
                if progress:
                    progress(step, loss)
        except KeyboardInterrupt:  # Ctrl-C / SIGTERM: keep the finished steps
            if done > saved:
                run.save(ckpt_dir, done)
            raise


def train_ecocseg_with(source_dir: str | os.PathLike, target_dir: Optional[str | os.PathLike],
                       out: str | os.PathLike, device: str = "cpu", *, resume: bool = True, save_every: int = 500,
                       progress_bar: bool = False, **overrides) -> Path:
    """``train_ecocseg`` with the recipe's defaults replaced by the ``overrides`` that are not None (what
    ``robustseg train ecocseg`` passes: config, steps, batch_size, crop, lr, seed)."""
    if not target_dir:
        raise UsageError("train ecocseg needs --target-dataset DIR (the unlabelled target build)")
    recipe = EcocSegRecipe(**{k: v for k, v in overrides.items() if v is not None})
    return train_ecocseg(source_dir, target_dir, out, recipe, device=device, resume=resume, save_every=save_every,
                         progress_bar=progress_bar)
