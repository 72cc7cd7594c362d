"""ECOCSeg's DACS-style self-training step (Woof6/ECOCSeg ``mmseg/models/uda/dacs.py``, ``DACS_ecoc``):
labelled source images, unlabelled target images, an EMA teacher that pseudo-labels the target, ClassMix
(source pixels of half the source classes pasted onto the target image), and a student trained on the
source batch and the mixed batch. Two heads, the same recipe:

* ``softmax``: DACS's one-hot pseudo-labels (teacher argmax) with cross-entropy, the target pixels weighted
  by the fraction of the batch's pixels whose max probability reaches ``pseudo_threshold``;
* ``ecoc``: code-distance pseudo-labels, reliable bit mining (Algorithm 1) and hybrid bit targets (reliable
  bits from the class codeword, the rest from the teacher's own bits), the ECOC loss, target pixels weighted
  by the fraction whose codeword confidence reaches ``pseudo_threshold``.

Defaults and their sources: EMA alpha 0.999 and pseudo_threshold 0.968 (the authors' ECOCSeg config
``gta2cs_uda_..._ecocseg.py``: ``alpha=0.999``, ``pseudo_threshold=0.968``), mining threshold T = 0.95 (the
paper and the config's ``threshold``), candidates 8 (``top_k`` in ``cal_score``), the pseudo-label crop (the
config's ``pseudo_weight_ignore_top=15``, ``pseudo_weight_ignore_bottom=120``: no weight on the target's top 15
and bottom 120 rows, where Cityscapes' rectification artefacts and ego-vehicle are). The mixed images get
DACS's strong augmentation when the caller passes it (``strong_aug.py``). Rare-class sampling is in the data
pipeline (``ecocseg_data.py``); DAFormer's ImageNet feature distance in ``feature_distance.py``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch.nn import functional as F

from baselines.ecoc.losses import code_targets, ecoc_loss
from baselines.ecoc.ops import hybrid_targets, mine_reliable_bits, soft_distance

IGNORE_INDEX = 255


@dataclass(frozen=True)
class SelfTrainConfig:
    head: str = "ecoc"  # "ecoc" or "softmax"
    ema_alpha: float = 0.999  # authors' config alpha
    pseudo_threshold: float = 0.968  # authors' config pseudo_threshold
    mining_threshold: float = 0.95  # paper T / config threshold
    mining_candidates: int = 8  # authors' cal_score top_k
    bit_targets: str = "hybrid"  # ECOC head: "hybrid" (ECOCSeg) or "code" (every bit from the class codeword:
    #                              no bit mining: a one-hot pseudo-label in code space, for ablations)
    ignore_top: int = 15  # authors' config pseudo_weight_ignore_top: target rows without pseudo-label weight
    ignore_bottom: int = 120  # authors' config pseudo_weight_ignore_bottom


def ema_alpha(step: int, alpha: float) -> float:
    """The EMA weight after optimizer step ``step`` (1-based): DACS's ``min(1 - 1 / (iter + 1), alpha)`` with
    ``iter`` = the next iteration's index, so the teacher follows the student closely at first."""
    return min(1 - 1 / (step + 1), alpha)


def ema_update(teacher: torch.nn.Module, student: torch.nn.Module, alpha: float) -> None:
    """teacher <- alpha * teacher + (1 - alpha) * student, parameters and float buffers alike."""
    with torch.no_grad():
        for t, s in zip(teacher.state_dict().values(), student.state_dict().values()):
            if t.is_floating_point():
                t.mul_(alpha).add_(s, alpha=1 - alpha)
            else:
                t.copy_(s)


def class_mix_masks(labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """DACS's ClassMix mask per source image: the pixels of a random half of the classes it shows."""
    masks = []
    for lab in labels:
        classes = lab.unique()
        classes = classes[classes != IGNORE_INDEX]
        pick = classes[torch.randperm(len(classes), generator=generator)[: (len(classes) + 1) // 2]]
        masks.append(torch.isin(lab, pick))
    return torch.stack(masks)


def _up(logits: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)


def supervised_loss(logits: torch.Tensor, labels: torch.Tensor, cfg: SelfTrainConfig,
                    codebook: torch.Tensor | None) -> torch.Tensor:
    logits = _up(logits, labels.shape[1:])
    if cfg.head == "softmax":
        return F.cross_entropy(logits, labels.long(), ignore_index=IGNORE_INDEX)
    bits, valid = code_targets(labels.long(), codebook)
    return ecoc_loss(logits, bits, valid.to(logits.dtype), codebook)


@dataclass
class PseudoLabels:
    labels: torch.Tensor  # (B, H, W) class ids
    weight: torch.Tensor  # (B, H, W) per-pixel weight of the target pixels
    bits: torch.Tensor | None = None  # (B, K, H, W) hybrid bit targets (ECOC head)


def pseudo_labels(teacher_logits: torch.Tensor, cfg: SelfTrainConfig, codebook: torch.Tensor | None) -> PseudoLabels:
    """The teacher's pseudo-labels at the logits' resolution, with DACS's confidence-fraction weight."""
    if cfg.head == "softmax":
        conf, labels = torch.softmax(teacher_logits, dim=1).max(dim=1)
        bits = None
    else:
        mined = mine_reliable_bits(teacher_logits, codebook, cfg.mining_threshold, cfg.mining_candidates)
        conf, labels = mined.confidence, mined.label
        bits = hybrid_targets(teacher_logits, codebook, mined) if cfg.bit_targets == "hybrid" else \
            code_targets(labels, codebook)[0]
    frac = (conf >= cfg.pseudo_threshold).float().mean()
    weight = torch.full_like(conf, float(frac))
    if cfg.ignore_top > 0:  # DACS's pseudo-label crop, after the confidence fraction (as dacs.py orders them)
        weight[:, :cfg.ignore_top] = 0
    if cfg.ignore_bottom > 0:
        weight[:, -cfg.ignore_bottom:] = 0
    return PseudoLabels(labels, weight, bits)


def self_training_loss(student: torch.nn.Module, teacher: torch.nn.Module, src_img: torch.Tensor,
                       src_lab: torch.Tensor, tgt_img: torch.Tensor, cfg: SelfTrainConfig,
                       codebook: torch.Tensor | None, generator: torch.Generator,
                       augment: Callable[[torch.Tensor], torch.Tensor] = lambda x: x,
                       feature_distance: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None = None
                       ) -> torch.Tensor:
    """Source loss + mixed-image loss for one batch (images normalised, labels (B, H, W) at image size);
    ``augment`` transforms the mixed images (DACS's strong augmentation), never the labels;
    ``feature_distance(last-stage features, images, labels)`` adds DAFormer's FD on the source batch."""
    size = src_lab.shape[1:]
    if feature_distance is None:
        loss = supervised_loss(student(src_img), src_lab, cfg, codebook)
    else:  # the same forward as student(src_img), keeping the encoder's features for the distance
        feats = student.backbone(src_img)
        loss = supervised_loss(student.decode_head(feats), src_lab, cfg, codebook) + \
            feature_distance(feats[-1], src_img, src_lab)
    with torch.no_grad():
        pl = pseudo_labels(_up(teacher(tgt_img), size), cfg, codebook)
    mask = class_mix_masks(src_lab, generator)
    mixed = augment(torch.where(mask[:, None], src_img, tgt_img))
    valid_src = mask & (src_lab != IGNORE_INDEX)
    weight = torch.where(mask, valid_src.float(), pl.weight)
    logits = _up(student(mixed), size)
    if cfg.head == "softmax":
        labels = torch.where(mask, src_lab.long(), pl.labels)
        ce = F.cross_entropy(logits, labels.clamp(max=logits.shape[1] - 1), reduction="none")
        return loss + (ce * weight).mean()
    src_bits, _ = code_targets(torch.where(valid_src, src_lab.long(), torch.zeros_like(src_lab.long())), codebook)
    bits = torch.where(mask[:, None], src_bits, pl.bits)
    return loss + ecoc_loss(logits, bits, weight, codebook)


def predict_classes(net: torch.nn.Module, images: torch.Tensor, cfg: SelfTrainConfig,
                    codebook: torch.Tensor | None) -> torch.Tensor:
    """(B, H, W) classes at image size: argmax of the logits, or the nearest codeword."""
    with torch.no_grad():
        out = _up(net(images), images.shape[2:])
        if cfg.head == "softmax":
            return out.argmax(dim=1)
        return soft_distance(torch.sigmoid(out), codebook).argmin(dim=1)
