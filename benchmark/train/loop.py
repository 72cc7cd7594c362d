"""The trainer: a recipe, a built dataset and a SAM-family model from the registry -> safetensors weights
that ``create_model(name, checkpoint=...)`` loads. Frozen SAM, trainable adapters/modules, Adam (or AdamW
groups with a cosine schedule, ``optim.py``), a per-epoch curriculum (RUAC), gradient accumulation, autocast
on request (bfloat16/float16; float16 with loss scaling), periodic atomic checkpoints, a CSV log of the
curves and a tqdm bar with loss and throughput."""
from __future__ import annotations

import csv
import itertools
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Optional

import torch

from baselines import create_model
from baselines.checkpoints import CheckpointError, read_state_dict
from baselines.contract import resolve_device, resolve_dtype

from ..jobs import JobConflictError, atomic_write_json, check_identity, folder_lock, sha256_file
from .data import index_dataset, recipe_plan, stream, train_rng
from .forward import training_loss
from .optim import make_optimizer, set_lr
from .recipes import override_recipe, recipe_for, registry_name, resolve_name
from .sum_setup import FAMILY_SETUP
from .state import latest_step, load_checkpoint_state, save_checkpoint, save_weights
from ..errors import UsageError

LOG_FIELDS = ("step", "epoch", "images", "loss", "focal", "dice", "token", "embedding", "adversarial", "alignment",
              "lr", "grad_norm", "images_per_s", "seconds", "max_memory_mb", "iou",
              "contrast", "consistency")
LOSS_PARTS = ("focal", "dice", "token", "embedding", "adversarial", "alignment", "iou", "contrast", "consistency")


@dataclass
class StepLog:
    """One optimizer step, as written to ``log.csv`` and passed to the progress callback."""

    step: int
    epoch: float
    images: int
    loss: float
    focal: float
    dice: float
    token: float
    embedding: float
    adversarial: float
    alignment: float
    lr: float
    grad_norm: float
    images_per_s: float
    seconds: float
    max_memory_mb: str = ""  # peak CUDA memory; empty on CPU
    iou: float = 0.0  # SUM: IoU-head MSE
    contrast: float = 0.0  # SUM's U2PL row: U2PL's contrastive loss
    consistency: float = 0.0  # SUM's AugSeg rows: the unlabelled consistency loss


@dataclass
class TrainResult:
    out_dir: Path
    weights: Path  # full model state dict (safetensors), loadable through the registry
    model: str
    steps: int
    start_step: int  # > 0 when the run resumed from a checkpoint
    last_loss: Optional[float]
    images_per_s: Optional[float]
    log: Path


class TrainConflictError(JobConflictError):
    pass


@dataclass
class _Session:
    """What a step changes and a checkpoint holds."""

    model: object
    recipe: object
    optimizer: object
    scaler: object
    trainable: list  # (name, parameter)
    state_names: set  # state_dict keys saved in checkpoints (trainable parameters and their modules' buffers)
    device: object
    amp_dtype: object

    def save(self, ckpt_dir: Path, step: int) -> None:
        extra = self.model.training_state() if hasattr(self.model, "training_state") else {}
        save_checkpoint(ckpt_dir, step, self.model, self.state_names, self.optimizer,
                        [n for n, _ in self.trainable], self.scaler, extra)

    def restore(self, ckpt_dir: Path) -> int:
        load_extra = getattr(self.model, "load_training_state", None)
        return load_checkpoint_state(ckpt_dir, self.model, self.state_names, self.optimizer,
                                     [n for n, _ in self.trainable], self.scaler, self.device, load_extra)


def _is_trainable(name: str, recipe) -> bool:
    return any(s in name for s in recipe.trainable) and not any(s in name for s in recipe.frozen)


def load_init(model, path: str, recipe) -> str:
    """Load SAM (or full) weights before training. Keys the file lacks must all belong to the trainable
    modules (they keep their seeded init); a key the model lacks or a shape mismatch is an error."""
    sd = read_state_dict(path)
    own = model.state_dict()
    unexpected = sorted(set(sd) - set(own))
    frozen_missing = sorted(k for k in set(own) - set(sd) if not _is_trainable(k, recipe))
    bad = sorted(k for k in set(sd) & set(own) if tuple(sd[k].shape) != tuple(own[k].shape))
    if unexpected or frozen_missing or bad:
        raise CheckpointError(f"{path}: cannot initialise {recipe.family}: unexpected keys {unexpected[:5]}, "
                              f"missing frozen keys {frozen_missing[:5]}, shape mismatches {bad[:5]}")
    model.load_state_dict(sd, strict=False)
    return sha256_file(path)


def step_generator(seed: int, step: int, device) -> torch.Generator:
    """The torch generator of one optimizer step: a function of (seed, step), so a resumed run draws the same."""
    g = torch.Generator(device=device)
    g.manual_seed(int(train_rng(seed, "step", step).integers(2**62)))
    return g


def read_log(path: Path, upto: int) -> list[dict]:
    """The rows of a run's ``log.csv`` up to step ``upto`` (a resumed run drops the killed run's later rows)."""
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [r for r in csv.DictReader(f) if int(r["step"]) <= upto]


def train(model_name: str, dataset_dir: str | os.PathLike, out_dir: str | os.PathLike, *,
          steps: Optional[int] = None, batch_size: Optional[int] = None, lr: Optional[float] = None,
          grad_accum: int = 1, device: str = "auto", dtype: str = "float32", resume: bool = True,
          config: Optional[str] = None, seed: int = 0, progress: Optional[Callable[[StepLog], None]] = None,
          init_checkpoint: Optional[str] = None, save_every: int = 500, train_size: Optional[int] = None,
          splits: Optional[list[str]] = None, dataset_configs: Optional[list[str]] = None,
          progress_bar: bool = True, random_weights: bool = False,
          refiner_checkpoint: Optional[str] = None, recipe_overrides: Optional[dict] = None) -> TrainResult:
    """Train ``model_name`` (``gara-sam``, ``robustsam``, ``sum``, ``ruac`` or a registry name such as
    ``robustsam_vit_l``) on a
    built dataset. ``None`` takes the recipe's value; ``steps=None`` is one epoch. ``init_checkpoint``:
    official SAM weights for the frozen part; without it the run is refused unless ``random_weights`` (tests:
    random init). ``batch_size`` images per
    micro-batch, ``grad_accum`` micro-batches per optimizer step. Rerunning with the same arguments resumes
    from the latest checkpoint in ``out_dir``. ``refiner_checkpoint``: SUM only, the weights of a
    ``sum-refine`` run (the mask-refinement module). ``recipe_overrides`` replaces other recipe fields by
    name (e.g. ``{"adversarial_from_epoch": 0}``); the run's identity records them."""
    name = resolve_name(model_name)
    recipe = override_recipe(recipe_for(name), recipe_overrides or {})
    if init_checkpoint is None and not random_weights:
        raise UsageError(f"training {name} needs --init-checkpoint (official SAM weights of the same size), or "
                         "--random-weights to start from random init (tests)")
    recipe = replace(recipe, **{k: v for k, v in {"lr": lr, "batch_size": batch_size, "train_size": train_size}.items()
                                if v is not None})
    if grad_accum < 1 or recipe.batch_size < 1 or save_every < 1:
        raise UsageError(f"grad_accum ({grad_accum}), batch_size ({recipe.batch_size}) and save_every ({save_every}) "
                         "must be >= 1")
    out = Path(out_dir)
    index = index_dataset(dataset_dir, dataset_configs)
    per_step = recipe.batch_size * grad_accum
    if steps is None:
        steps = max(1, len(recipe_plan(index, recipe, seed, 0, splits)) // per_step)
    dev = torch.device(resolve_device(device))
    amp_dtype = resolve_dtype(dtype)

    adapter = create_model(registry_name(name), device="cpu", **({"config": config} if config else {}))
    model = adapter.model
    init_sha = load_init(model, init_checkpoint, recipe) if init_checkpoint else ""
    setup = FAMILY_SETUP.get(recipe.family)
    if setup is None and refiner_checkpoint is not None:
        raise UsageError(f"--refiner is only for training sum and sum-hq (this recipe is {recipe.family})")
    extra = setup(model, recipe, refiner_checkpoint) if setup else {}
    if hasattr(model, "prepare_training"):  # modules built from the loaded weights (RUAC's attackers)
        model.prepare_training()
    params = [(n, p) for n, p in model.named_parameters()]
    for n, p in params:
        p.requires_grad_(_is_trainable(n, recipe))
    trainable = [(n, p) for n, p in params if p.requires_grad]
    if not trainable:
        raise UsageError(f"{name}: no parameter matches the recipe's trainable parts {recipe.trainable}")
    model.to(dev).train()
    optimizer, trainable = make_optimizer(recipe, trainable, model)
    sess = _Session(model, recipe, optimizer, torch.amp.GradScaler(dev.type, enabled=amp_dtype == torch.float16),
                    trainable, {k for k in model.state_dict() if _is_trainable(k, recipe)}, dev, amp_dtype)

    identity = {"model": name, "config": config, "recipe": recipe.identity(), "seed": seed,
                "grad_accum": grad_accum, "splits": splits, "dataset_configs": dataset_configs,
                "dataset_fingerprint": index.fingerprint, "init_checkpoint_sha256": init_sha, **extra}
    if recipe.schedule != "constant":  # the rates depend on the run's length
        identity["schedule_steps"] = steps
    out.mkdir(parents=True, exist_ok=True)
    with folder_lock(out, "train.lock"):
        start = prepare_run_folder(out, identity, recipe.sources, resume, sess.restore)
        last = _run_steps(sess, index, seed, splits, start, steps, grad_accum, out, name, progress, progress_bar,
                          save_every)
        weights = out / f"{name}.safetensors"
        save_weights(model, weights)
    return TrainResult(out, weights, name, steps, start, last.loss if last else None,
                       last.images_per_s if last else None, out / "log.csv")


def prepare_run_folder(out: Path, identity: dict, sources: dict, resume: bool, restore) -> int:
    """Refuse a folder of another run; restore the latest checkpoint; return the step to continue from."""
    id_file, ckpt_dir = out / "train.json", out / "checkpoints"
    check_identity(id_file, identity, holds="a different training run", error=TrainConflictError, key="identity")
    start = 0
    if latest_step(ckpt_dir) is not None:
        if not resume:
            raise TrainConflictError(f"{out} already holds checkpoints; pass resume=True or use another folder")
        start = restore(ckpt_dir)
    atomic_write_json(id_file, {"identity": identity, "sources": sources})
    return start


def _run_steps(sess: _Session, index, seed: int, splits, start: int, steps: int, grad_accum: int, out: Path,
               name: str, progress, progress_bar: bool, save_every: int) -> Optional[StepLog]:
    """Optimizer steps start+1..steps, logging each to log.csv (rows after ``start`` from a killed run are
    dropped) and checkpointing every ``save_every`` steps and at the end."""
    from tqdm.auto import tqdm

    model, recipe, optimizer, scaler, dev = sess.model, sess.recipe, sess.optimizer, sess.scaler, sess.device
    ckpt_dir, log_path = out / "checkpoints", out / "log.csv"
    per_step = recipe.batch_size * grad_accum
    kept = read_log(log_path, start)
    epoch_len = max(1, len(recipe_plan(index, recipe, seed, 0, splits)))
    samples = stream(index, recipe, seed, start * per_step, splits)
    autocast = torch.autocast(dev.type, dtype=sess.amp_dtype, enabled=sess.amp_dtype != torch.float32)
    params = [p for _, p in sess.trainable]
    last: Optional[StepLog] = None
    saved = start
    t0 = time.perf_counter()
    with open(log_path, "w", newline="") as log_file:
        writer = csv.DictWriter(log_file, fieldnames=LOG_FIELDS)
        writer.writeheader()
        writer.writerows(kept)
        bar = tqdm(total=steps, initial=start, desc=f"train {name}", unit="step", disable=not progress_bar)
        try:
            for step in range(start + 1, steps + 1):
                gen = step_generator(seed, step, dev)
                lr = set_lr(optimizer, recipe, step, steps)
                stage = recipe.at_epoch((step - 1) * per_step // epoch_len)
                optimizer.zero_grad(set_to_none=True)
                sums = dict.fromkeys(("loss",) + LOSS_PARTS, 0.0)
                for _ in range(grad_accum):
                    items = list(itertools.islice(samples, recipe.batch_size))
                    with autocast:
                        parts = training_loss(model, items, stage, gen, dev)
                    if not torch.isfinite(parts.total):
                        raise FloatingPointError(f"step {step}: loss is {float(parts.total)} on images "
                                                 f"{[(it.image_id, it.split) for it in items]}")
                    scaler.scale(parts.total / grad_accum).backward()
                    sums["loss"] += float(parts.total.detach()) / grad_accum
                    for k in LOSS_PARTS:
                        sums[k] += getattr(parts, k) / grad_accum
                scaler.unscale_(optimizer)
                grad_norm = float(torch.nn.utils.clip_grad_norm_(params, recipe.grad_clip))
                scaler.step(optimizer)
                scaler.update()
                if hasattr(model, "after_optimizer_step"):  # e.g. an EMA teacher (SUM's AugSeg rows)
                    model.after_optimizer_step()
                seconds = time.perf_counter() - t0
                mem = f"{torch.cuda.max_memory_allocated(dev) / 2**20:.0f}" if dev.type == "cuda" else ""
                last = StepLog(step, step * per_step / epoch_len, step * per_step, **sums, lr=lr,
                               grad_norm=grad_norm, images_per_s=(step - start) * per_step / seconds,
                               seconds=seconds, max_memory_mb=mem)
                writer.writerow(asdict(last))
                log_file.flush()
                bar.update(1)
                bar.set_postfix(loss=f"{last.loss:.4f}", img_s=f"{last.images_per_s:.2f}")
                if step % save_every == 0 or step == steps:
                    sess.save(ckpt_dir, step)
                    saved = step
                if progress:
                    progress(last)
        except KeyboardInterrupt:  # Ctrl-C: keep the finished steps
            if last is not None and last.step > saved:
                sess.save(ckpt_dir, last.step)
            raise
        finally:
            bar.close()
    return last
