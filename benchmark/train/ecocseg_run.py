"""``robustseg train ecocseg``: ECOCSeg's DACS-style self-training of a SegFormer from a labelled source
build (e.g. ``gta5``) to an unlabelled target build (e.g. ``cityscapes-semantic``; its labels are never read).

Defaults are the paper's UDA setting (Sec. 5) unless named otherwise: 40k iterations, batch 2, 512x512
random crops after DAFormer's keep-ratio resize, flips and rare-class sampling (``ecocseg_data.py``), AdamW lr
6e-5 for the encoder and 10x for the decoder (config ``head=dict(lr_mult=10.0)``; encoder norms without weight
decay), weight decay 0.01, linear warm-up over 1.5k iterations then linear (poly, power 1) decay
(``poly10warm``), MiT-B5, K = 40 bits; EMA 0.999, the pseudo-label thresholds and crop in
``ecocseg.SelfTrainConfig``, DACS's strong augmentation of the mixed images (``strong_aug.py``). The run
writes ``weights.safetensors`` (the student, loadable with ``--checkpoint`` into ``ecocseg-segformer-<size>``
or ``segformer-<size>``), ``recipe.json``, ``log.csv`` and ``checkpoints/`` (student, EMA teacher and AdamW
state, in the SAM recipes' format of ``state.py``); rerunning the same command resumes bit-exactly."""
from __future__ import annotations

import copy
import csv
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from baselines.checkpoints import file_digest, load_into, read_state_dict
from baselines.contract import resolve_device
from baselines.ecoc.codebook import read_codebook
from baselines.segformer.configs import PIXEL_MEAN, PIXEL_STD
from baselines.segformer.model import build_network
from baselines.segformer.slide import parse_scale

from ..jobs import atomic_write_json, folder_lock, load_manifest
from .data import train_rng
from .ecocseg_data import TRAIN_SCALES, Pipeline, RareClassSampler, class_pixels, read_rows
from .ecocseg import SelfTrainConfig, ema_alpha, ema_update, self_training_loss
from .loop import prepare_run_folder, read_log, step_generator
from .state import load_checkpoint_state, save_checkpoint, save_weights
from .feature_distance import THING_CLASSES, FeatureDistance, class_indices
from .strong_aug import strong_transform
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
    source_scale: str = "auto"  # "auto" (TRAIN_SCALES by the build's source), "none" or "WxH"
    target_scale: str = "auto"
    flip: float = 0.5
    cat_max_ratio: float = 0.75  # source crops only, as the config's gta_train_pipeline
    rcs_temperature: float = 0.01  # 0: source images drawn uniformly
    rcs_min_pixels: int = 3000
    rcs_min_crop_ratio: float = 0.5
    strong_aug: bool = True
    norm_decay_mult: float = 0.0
    codebook: str = ""  # a codebook file (json or .npy, N x K of 0/1); "": the searched random codebook
    fd_lambda: float = 0.005  # ImageNet feature distance weight (applied only with --init-checkpoint)
    fd_classes: str = ",".join(THING_CLASSES)  # classes whose source pixels FD holds; "all": every pixel
    fd_min_ratio: float = 0.75  # a feature cell counts where its majority class covers this share


LOG_FIELDS = ("step", "loss", "lr")
#: where each default of ``EcocSegRecipe`` comes from (written to the run's train.json)
SOURCES = {
    "steps, batch_size, crop": "paper Sec. 5 (UDA: 40k iterations, batch 2, 512x512 crops)",
    "lr, head_lr_mult, weight_decay, warmup": "authors' config (AdamW 6e-5, head lr_mult 10, wd 0.01, poly10warm 1.5k)",
    "config, bits": "paper Sec. 5 (MiT-B5, K = 40)",
    "ema_alpha, pseudo_threshold, mining, ignore_top, ignore_bottom": "benchmark/train/ecocseg.py SelfTrainConfig",
    "source_scale, target_scale, flip, cat_max_ratio": "authors' uda_gta_to_cityscapes_512x512.py pipelines "
                                                       "(Resize, RandomCrop cat_max_ratio=0.75 on the source, "
                                                       "RandomFlip 0.5); scales per source in ecocseg_data.TRAIN_SCALES",
    "rcs_temperature, rcs_min_pixels, rcs_min_crop_ratio": "authors' config rare_class_sampling (class_temp 0.01, "
                                                           "min_pixels 3000, min_crop_ratio 0.5)",
    "strong_aug": "DACS strong_transform on the mixed images (DAFormer uda/dacs.py: colour jitter s=0.2, p=0.2; blur)",
    "codebook": "paper Sec. 5 default Mtext (CLIP text embeddings) needs CLIP: pass it as a file (the authors' "
                "config lists one, marked 'clip 40 3'); by default the authors' random search (ECOC/ecoc.py)",
    "fd_lambda, fd_classes, fd_min_ratio": "authors' config imnet_feature_dist_lambda 0.005, _classes [6, 7, 11-18] "
                                           "(Cityscapes' thing classes), _scale_min_ratio 0.75 (DAFormer's FD); "
                                           "applied only when --init-checkpoint gives the ImageNet encoder",
    "norm_decay_mult": "authors' config paramwise_cfg norm decay_mult 0 (encoder norms; 'head' wins for the head, "
                       "as mmcv matches the longest key first)",
}


def check_recipe(recipe: EcocSegRecipe, cfg: SelfTrainConfig) -> None:
    """Range checks of the settings a user may override, so a wrong one fails before any data is read."""
    bad = [(k, v, want) for k, v, ok, want in (
        ("flip", recipe.flip, 0 <= recipe.flip <= 1, "in [0, 1]"),
        ("cat_max_ratio", recipe.cat_max_ratio, 0 < recipe.cat_max_ratio <= 1, "in (0, 1]"),
        ("rcs_temperature", recipe.rcs_temperature, recipe.rcs_temperature >= 0, ">= 0 (0: uniform)"),
        ("rcs_min_pixels", recipe.rcs_min_pixels, recipe.rcs_min_pixels >= 0, ">= 0"),
        ("rcs_min_crop_ratio", recipe.rcs_min_crop_ratio, 0 <= recipe.rcs_min_crop_ratio <= 1, "in [0, 1]"),
        ("norm_decay_mult", recipe.norm_decay_mult, recipe.norm_decay_mult >= 0, ">= 0"),
        ("fd_min_ratio", recipe.fd_min_ratio, 0 <= recipe.fd_min_ratio <= 1, "in [0, 1]"),
        ("ignore_top", cfg.ignore_top, cfg.ignore_top >= 0, ">= 0"),
        ("ignore_bottom", cfg.ignore_bottom, cfg.ignore_bottom >= 0, ">= 0"),
        ("pseudo_threshold", cfg.pseudo_threshold, 0 <= cfg.pseudo_threshold <= 1, "in [0, 1]"),
        ("mining_threshold", cfg.mining_threshold, 0 <= cfg.mining_threshold <= 1, "in [0, 1]"),
        ("ema_alpha", cfg.ema_alpha, 0 <= cfg.ema_alpha < 1, "in [0, 1)")) if not ok]
    if bad:
        k, v, want = bad[0]
        raise UsageError(f"recipe option {k}={v!r}: must be {want}")
    for k in ("source_scale", "target_scale"):
        scale_of(getattr(recipe, k), "", k)


def scale_of(text: str, source: str, name: str = "scale") -> Optional[tuple[int, int]]:
    """A recipe scale as (long, short) or None (no resize); ``auto`` looks the build's source up."""
    if text == "auto":
        return TRAIN_SCALES.get(source)
    if text == "none":
        return None
    scale = parse_scale(text)
    if scale is None:
        raise UsageError(f"recipe option {name}={text!r}: must be auto, none or WxH (e.g. 1280x720)")
    return scale


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
    imnet: Optional[torch.nn.Module] = None  # the frozen ImageNet encoder of the feature distance, if on

    def save(self, ckpt_dir: Path, step: int) -> None:
        save_checkpoint(ckpt_dir, step, self.pair, set(self.pair.state_dict()), self.optimizer, self.param_names,
                        self.scaler)

    def restore(self, ckpt_dir: Path) -> int:
        return load_checkpoint_state(ckpt_dir, self.pair, set(self.pair.state_dict()), self.optimizer,
                                     self.param_names, self.scaler, self.device)


def _session(recipe: EcocSegRecipe, num_classes: int, device: str, init_checkpoint: Optional[str] = None,
             codebook: Optional[np.ndarray] = None) -> _Run:
    """The student/teacher pair and its optimizer; ``codebook``: the one read from the recipe's file
    (None: the searched random codebook)."""
    torch.manual_seed(recipe.seed)
    net = build_network(recipe.config, num_classes, recipe.head, recipe.bits, recipe.seed, recipe.codebook_trials,
                        codebook)
    imnet = None
    if init_checkpoint:
        load_encoder(net, init_checkpoint)
        if recipe.fd_lambda > 0:  # DAFormer's imnet_model: the pretrained encoder, frozen, in eval mode
            imnet = copy.deepcopy(net.backbone).requires_grad_(False).train(False).to(device)
    teacher = copy.deepcopy(net)  # DACS's _init_ema_weights: the teacher starts as the student
    pair = torch.nn.ModuleDict({"student": net, "teacher": teacher}).to(device)
    net.train()
    teacher.train(False)  # the teacher only predicts (dropout off, as DACS's EMA model)
    opt, names = _optimizer(net, recipe)
    return _Run(pair, opt, names, torch.amp.GradScaler("cpu", enabled=False), device, imnet)


def codebook_of(recipe: EcocSegRecipe, num_classes: int) -> tuple[Optional[np.ndarray], str]:
    """The codebook file the recipe names (``codebook``), checked, and the sha256 of its bytes;
    (None, ""): the searched random codebook."""
    if not recipe.codebook:
        return None, ""
    if recipe.head != "ecoc":
        raise UsageError(f"recipe option codebook={recipe.codebook!r}: only the ecoc head has a codebook")
    try:
        code, digest = read_codebook(recipe.codebook, num_classes)
    except ValueError as e:
        raise UsageError(f"recipe option codebook: {e}") from None
    if code.shape[1] != recipe.bits:
        raise UsageError(f"recipe option codebook: {recipe.codebook} has {code.shape[1]}-bit codewords but bits is "
                         f"{recipe.bits}; pass --recipe-option bits={code.shape[1]}")
    return code, digest


def load_encoder(net: torch.nn.Module, path: str) -> str:
    """Load an encoder checkpoint into ``net.backbone`` strictly and return its sha256: an ImageNet MiT file
    (NVlabs/SegFormer ``mit_b*.pth``: encoder keys and an ImageNet classifier ``head.*``, which is dropped)
    or a whole SegFormer checkpoint (``backbone.*`` used, ``decode_head.*`` dropped). The decode head keeps
    its initialisation, as in the paper's start from an ImageNet-pretrained MiT-B5."""
    sd = read_state_dict(path)
    encoder = {k.removeprefix("backbone."): v for k, v in sd.items() if not k.startswith(("head.", "decode_head."))}
    load_into(net.backbone, encoder, where=f"{path} (encoder)")
    return file_digest(path)


def _optimizer(net: torch.nn.Module, recipe: EcocSegRecipe) -> tuple[torch.optim.AdamW, list[str]]:
    """AdamW with mmcv's paramwise rule of the authors' config: the decode head at 10x lr (key 'head'), the
    encoder's norm parameters without weight decay (key 'norm', decay_mult 0), the rest at the base rate."""
    head = {id(p) for p in net.decode_head.parameters()}
    named = [(f"student.{n}", p) for n, p in net.named_parameters()]
    encoder = [(n, p) for n, p in named if id(p) not in head]
    groups = [([(n, p) for n, p in encoder if "norm" not in n], recipe.lr, recipe.weight_decay),
              ([(n, p) for n, p in encoder if "norm" in n], recipe.lr, recipe.weight_decay * recipe.norm_decay_mult),
              ([(n, p) for n, p in named if id(p) in head], recipe.lr * recipe.head_lr_mult, recipe.weight_decay)]
    opt = torch.optim.AdamW([{"params": [p for _, p in g], "lr": lr, "weight_decay": wd, "base_lr": lr}
                             for g, lr, wd in groups])
    return opt, [n for g, _, _ in groups for n, _ in g]


def _fingerprint(dataset_dir: Path) -> str:
    return str(load_manifest(dataset_dir).get("fingerprint", ""))


def train_ecocseg(source_dir: str | os.PathLike, target_dir: str | os.PathLike, out: str | os.PathLike,
                  recipe: EcocSegRecipe = EcocSegRecipe(), device: str = "cpu",
                  progress: Optional[Callable[[int, float], None]] = None, *, resume: bool = True,
                  save_every: int = 500, progress_bar: bool = False,
                  self_training: Optional[SelfTrainConfig] = None, init_checkpoint: Optional[str] = None) -> Path:
    """Self-train and return the path of ``weights.safetensors``. Rerunning with the same arguments resumes
    from the latest checkpoint in ``out`` and ends with the same weights as an uninterrupted run: every
    random draw of step s (samples, crops, flips, ClassMix, augmentation, dropout) is a function of (seed, s).
    ``self_training`` defaults to ``SelfTrainConfig(head=recipe.head)``; ``init_checkpoint`` loads the encoder
    (``load_encoder``), else it starts from random init."""
    out = Path(out)
    if save_every < 1:
        raise UsageError(f"save_every ({save_every}) must be >= 1")
    cfg = self_training or SelfTrainConfig(head=recipe.head)
    if cfg.head != recipe.head:
        raise UsageError(f"self-training head {cfg.head!r} differs from the recipe's {recipe.head!r}")
    check_recipe(recipe, cfg)
    src_rows, classes, src_name = read_rows(Path(source_dir), labelled=True)
    tgt_rows, tgt_classes, tgt_name = read_rows(Path(target_dir), labelled=False)
    if tgt_classes != classes:
        raise BadInputError(f"source classes {classes[:3]}... and target classes {tgt_classes[:3]}... differ")
    sampler = None
    if recipe.rcs_temperature > 0:
        sampler = RareClassSampler(class_pixels(src_rows, len(classes)), recipe.rcs_temperature,
                                   recipe.rcs_min_pixels, recipe.rcs_min_crop_ratio)
    pipelines = (Pipeline(src_rows, len(classes), recipe.crop, scale_of(recipe.source_scale, src_name, "source_scale"),
                          recipe.flip, recipe.cat_max_ratio, sampler),
                 Pipeline(tgt_rows, len(classes), recipe.crop, scale_of(recipe.target_scale, tgt_name, "target_scale"),
                          recipe.flip))
    device = resolve_device(device)
    codebook, codebook_sha256 = codebook_of(recipe, len(classes))
    run = _session(recipe, len(classes), device, init_checkpoint, codebook)
    fd_classes = class_indices(recipe.fd_classes, classes)  # checked even where FD is off: never a silent typo
    fd = None if run.imnet is None else FeatureDistance(run.imnet, recipe.fd_lambda, fd_classes, recipe.fd_min_ratio,
                                                         len(classes))
    identity = {"model": "ecocseg", "recipe": asdict(recipe), "self_training": asdict(cfg),
                "feature_distance": fd is not None,
                "init_checkpoint_sha256": file_digest(init_checkpoint) if init_checkpoint else "",
                "codebook_sha256": codebook_sha256,
                "source_fingerprint": _fingerprint(Path(source_dir)),
                "target_fingerprint": _fingerprint(Path(target_dir))}
    out.mkdir(parents=True, exist_ok=True)
    with folder_lock(out, "train.lock"):
        start = prepare_run_folder(out, identity, SOURCES, resume, run.restore)
        _steps(run, recipe, cfg, pipelines, start, out, progress, save_every, progress_bar, fd)
        save_weights(run.pair["student"], out / "weights.safetensors")
        atomic_write_json(out / "recipe.json", asdict(recipe) | {
            "self_training": asdict(cfg), "feature_distance": fd is not None, "classes": classes,
            "source": str(source_dir), "target": str(target_dir),
            "scales": {"source": pipelines[0].scale, "target": pipelines[1].scale}})
    return out / "weights.safetensors"


def _steps(run: _Run, recipe: EcocSegRecipe, cfg: SelfTrainConfig, data: tuple, start: int, out: Path,
           progress, save_every: int, progress_bar: bool, fd: Optional[FeatureDistance] = None) -> None:
    """Steps start+1..recipe.steps, each logged to log.csv, a checkpoint every ``save_every`` steps, at the
    end, and on Ctrl-C/SIGTERM (the finished steps are kept); ``fd``: the feature distance, if on."""
    from tqdm.auto import tqdm

    source, target = data
    net, teacher, opt = run.pair["student"], run.pair["teacher"], run.optimizer
    mean, std = torch.tensor(PIXEL_MEAN).view(1, 3, 1, 1), torch.tensor(PIXEL_STD).view(1, 3, 1, 1)
    codebook = getattr(net, "code_book", None)
    dev = next(net.parameters()).device
    base = [g["base_lr"] for g in opt.param_groups]
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
                xs, ys = source.batch(recipe.batch_size, rng)
                xt, _ = target.batch(recipe.batch_size, rng)
                augment = (lambda x: strong_transform(x, mean.to(x.device), std.to(x.device), rng)) \
                    if recipe.strong_aug else (lambda x: x)
                opt.zero_grad()
                with torch.random.fork_rng(devices=[]):  # dropout draws from (seed, step), not from the past
                    torch.manual_seed(int(train_rng(recipe.seed, "ecocseg-dropout", step).integers(2**62)))
                    loss = self_training_loss(net, teacher, xs.to(dev), ys.to(dev), xt.to(dev), cfg, codebook,
                                              step_generator(recipe.seed, step, "cpu"), augment, fd)
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
                       progress_bar: bool = False, recipe_options: Optional[dict] = None,
                       not_taken: Optional[dict] = None, init_checkpoint: Optional[str] = None, **overrides) -> Path:
    """``train_ecocseg`` with the recipe's defaults replaced by the ``overrides`` that are not None (what
    ``robustseg train ecocseg`` passes: config, steps, batch_size, crop, lr, seed) and by ``recipe_options``
    (``--recipe-option KEY=VALUE``: any field of ``EcocSegRecipe`` or ``SelfTrainConfig``). ``not_taken``:
    the CLI's options this command does not take, by flag; any that is set is refused."""
    given = [flag for flag, value in (not_taken or {}).items() if value]
    if given:
        raise UsageError(f"train ecocseg does not take {', '.join(given)} (settings: --init-checkpoint ENCODER, "
                         "--config, --steps, --batch-size, --train-size, --lr, --seed, --recipe-option)")
    if not target_dir:
        raise UsageError("train ecocseg needs --target-dataset DIR (the unlabelled target build)")
    recipe = EcocSegRecipe(**{k: v for k, v in overrides.items() if v is not None})
    recipe, cfg = with_options(recipe, SelfTrainConfig(head=recipe.head), recipe_options or {})
    return train_ecocseg(source_dir, target_dir, out, recipe, device=device, resume=resume, save_every=save_every,
                         progress_bar=progress_bar, self_training=cfg, init_checkpoint=init_checkpoint)


def with_options(recipe: EcocSegRecipe, cfg: SelfTrainConfig, options: dict) -> tuple[EcocSegRecipe, SelfTrainConfig]:
    """``recipe`` and ``cfg`` with fields replaced by name (types checked; ranges by ``check_recipe``)."""
    from .recipes import override_recipe

    ours = {f.name for f in fields(EcocSegRecipe)} - {"head"}
    theirs = {f.name for f in fields(SelfTrainConfig)} - {"head"}
    unknown = sorted(set(options) - ours - theirs)
    if unknown:
        raise UsageError(f"recipe option {unknown[0]!r}: not an ecocseg setting; valid: {', '.join(sorted(ours | theirs))}")
    return (override_recipe(recipe, {k: v for k, v in options.items() if k in ours}),
            override_recipe(cfg, {k: v for k, v in options.items() if k in theirs}))
