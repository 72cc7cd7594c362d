"""SUM's AugSeg comparison rows (SUM paper §4.2 and App. E.1, Table 1 and Table 4) as the ``sum`` stage with
``semisup=augseg``: AugSeg (Zhao et al., CVPR 2023; ZhenZHAO/AugSeg @ 7ead870) adapted to interactive
segmentation as SUM describes it.

* "AugSeg employs a teacher-student framework": the teacher is an exponential moving average of the student
  (AugSeg ``train_semi.py``: after every optimizer step i, teacher = d * teacher + (1 - d) * student for
  parameters and buffers, d = min(1 - 1 / (i + 1), ema_decay), ema_decay 0.999 in its VOC configs), starting
  as the initial model.
* "For the human-annotated data, we employ SAM's training procedure": labelled items go through the recipe's
  interactive rounds (``SumSam._sum_stage``) against their ground truth.
* "For the unlabeled data, we apply a consistency loss based on predictions from two augmented versions of the
  same image, processed by the student and teacher networks. We binarize the prediction from the teacher
  network as the target, focal loss and Dice loss ... 20:1": the teacher sees the image (AugSeg's weak view),
  the student its strong augmentation (``augseg_aug``), both get the same prompts, and each student output is
  trained against the teacher's output > 0.
* Prompts (``augseg_prompt``): ``mixed`` ("AugSeg Mixed-Prompt") draws them from SAM's pseudo-label (the frozen
  initial SAM's answer to one click, kept by SAM's filters, as SUM's): first a point or a box (1/2 each), then
  a click in the error region of the student's prediction per round, the last round without one ("we sample
  interactive prompts for both teacher and student networks based on SAM pseudo-labels"); ``box`` ("AugSeg
  Box-Prompt") one round with the pseudo-label's box; ``grid`` ("AugSeg Uniform Point-Prompt") one round with
  "a regular grid of points as prompts", each point its own prompt, no pseudo-label.
* Single-prompt rounds give SAM's three outputs. ``augseg_consistency=best`` ("we select the most similar
  prediction to the pseudo-label from each set, and add consistency loss between these two") or ``multi``
  ("between corresponding predictions from both sets, as determined by the same output token", three losses);
  ``grid`` always pairs by token (the paper: no target to select with). Later rounds: the single output.

Items whose pseudo-label SAM's filters drop keep their rows with certainty 0 (no loss), as SUM's do."""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

import numpy as np
import torch

from ..training import TrainingBatch, TrainingOutputs
from .augseg_aug import strong_augment
from .configs import official


def ema_update(teacher: torch.nn.Module, student: torch.nn.Module, steps_done: int, decay: float) -> None:
    """AugSeg's teacher update after optimizer step ``steps_done`` (1-based): d = min(1 - 1/steps_done, decay)."""
    d = min(1 - 1 / steps_done, decay)
    with torch.no_grad():
        for t, s in zip(teacher.parameters(), student.parameters()):
            t.mul_(d).add_(s.detach(), alpha=1 - d)
        for t, s in zip(teacher.buffers(), student.buffers()):
            if t.is_floating_point():
                t.mul_(d).add_(s, alpha=1 - d)


def grid_points(side: int, size: int) -> torch.Tensor:
    """SAM's automatic-mask-generation grid: ``side`` x ``side`` cell centres of a ``size`` square, (P, 2) xy."""
    c = (torch.arange(side, dtype=torch.float32) + 0.5) * size / side
    ys, xs = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([xs.flatten(), ys.flatten()], 1)


def _best(up: torch.Tensor, target: torch.Tensor) -> int:
    """The output (of up, (K, S, S) logits) with the highest IoU with ``target`` (bool)."""
    pred = up > 0
    inter = (pred & target).flatten(1).sum(1).float()
    union = (pred | target).flatten(1).sum(1).float().clamp(min=1)
    return int((inter / union).argmax())


class AugSegStage:
    """The unlabelled half of one AugSeg step for ``model`` (a ``SumSam`` with its helpers attached)."""

    def __init__(self, model, generator: Optional[torch.Generator]):
        self.m, self.gen = model, generator
        self.h = model.sum_helpers
        self.cfg = self.h.config
        self.rows: list = []  # (student logits (S, S), teacher target (S, S), certainty, IoU prediction)

    def _pair(self, up_s, up_t, iou_s, ks: int, kt: int, keep: bool) -> None:
        self.rows.append((up_s[ks], (up_t[kt] > 0).float().detach(), float(keep), iou_s[0, ks]))

    def _round(self, emb_s, emb_t, pts, labels, box, masks, multimask: bool, size: int):
        m, out = self.m, []
        for owner, emb, mask_in in ((m, emb_s, masks[0]), (self.h.teacher, emb_t, masks[1])):
            with torch.set_grad_enabled(owner is m and torch.is_grad_enabled()):
                sparse, dense = m._embed(owner.prompt_encoder, pts, labels, box, mask_in, 0, size)
                low, iou = m._decode(owner, emb, sparse, dense, multimask=multimask)
            out.append((low, m.to_train_size(low, size)[0], iou))
        return out

    def _interactive(self, emb_s, emb_t, pl: torch.Tensor, keep: bool, size: int) -> None:
        from .sum_training import box_of, weighted_pixel

        cfg, gen, ones = self.cfg, self.gen, torch.ones_like(pl, dtype=torch.float32)
        rounds = 1 if cfg.augseg_prompt == "box" else cfg.rounds
        box, pts = None, []
        use_box = cfg.augseg_prompt == "box" or float(torch.rand(1, generator=gen, device=pl.device)) < 0.5
        if use_box and bool(pl.any()):
            box = box_of(pl)
        else:
            click = weighted_pixel(pl, ones, gen)
            pts = [click] if click is not None else []
        labels, masks, pred = [1] * len(pts), (None, None), None
        for r in range(rounds):
            if 0 < r < rounds - 1:
                click = weighted_pixel(pred != pl, ones, gen)
                if click is not None:
                    pts.append(click)
                    labels.append(int(pl[click[1], click[0]]))
            single = r == 0  # one prompt: SAM's three outputs
            (low_s, up_s, iou_s), (low_t, up_t, _) = self._round(emb_s, emb_t, pts, labels, box, masks, single, size)
            ks = _best(up_s, pl) if single else 0
            kt = _best(up_t, pl) if single else 0
            if single and cfg.augseg_consistency == "multi":
                for k in range(up_s.shape[0]):
                    self._pair(up_s, up_t, iou_s, k, k, keep)
            else:
                self._pair(up_s, up_t, iou_s, ks, kt, keep)
            masks = (low_s[:, ks:ks + 1].detach(), low_t[:, kt:kt + 1])
            pred = up_s[ks].detach() > 0

    def _grid(self, emb_s, emb_t, size: int) -> None:
        m = self.m
        pts = grid_points(self.cfg.augseg_grid_side, size).to(emb_s.device) * (m.image_encoder.img_size / size)
        prompt = (pts[:, None], torch.ones(len(pts), 1, dtype=torch.int, device=emb_s.device))
        out = []
        for owner, emb in ((m, emb_s), (self.h.teacher, emb_t)):
            with torch.set_grad_enabled(owner is m and torch.is_grad_enabled()):
                sparse, dense = official.PromptEncoder.forward(owner.prompt_encoder, points=prompt, boxes=None,
                                                               masks=None)
                low, iou = m._decode(owner, emb, sparse, dense, multimask=True)
            out.append((m.to_train_size(low.flatten(0, 1)[:, None], size)[:, 0], iou.flatten()))
        (up_s, iou_s), (up_t, _) = out
        for k in range(len(up_s)):  # point p, token t at row 3p + t: pairs by token
            self.rows.append((up_s[k], (up_t[k] > 0).float().detach(), 1.0, iou_s[k]))

    def run(self, x: torch.Tensor, images, gts, size: int) -> None:
        """``x``: the unlabelled items' model input, ``images`` their uint8 images, ``gts`` their (hidden) masks,
        read only to place SAM's pseudo-label click as SUM's automatic-mask stand-in does."""
        m, h, gen = self.m, self.h, self.gen
        seed = int(torch.randint(2**62, (1,), generator=gen, device=gen.device if gen is not None else "cpu"))
        rng = np.random.default_rng(seed)
        strong = m.training_input([strong_augment(np.asarray(im), rng)[0] for im in images])
        with torch.no_grad():
            emb_t = h.teacher.image_encoder(x)  # the weak view (the image itself)
            emb_l = h.labeller.image_encoder(x) if self.cfg.augseg_prompt != "grid" else None
        emb_s = m.image_encoder(strong)
        for j, gt in enumerate(gts):
            e_s, e_t = emb_s[j:j + 1], emb_t[j:j + 1]
            if self.cfg.augseg_prompt == "grid":
                self._grid(e_s, e_t, size)
                continue
            with torch.no_grad():
                _, _, s, keep, _ = m._pseudo_label(emb_l[j:j + 1], gt, size, gen, by_gt=False)
            self._interactive(e_s, e_t, s > 0, keep, size)


def augseg_outputs(model, x, gts, unlabelled, batch: TrainingBatch, generator) -> TrainingOutputs:
    """Labelled items: the recipe's rounds against the ground truth; unlabelled: AugSeg's consistency rows
    (``consistency`` marks them, so the loss adds the two halves as AugSeg's sup_loss + unsup_loss)."""
    lab = [i for i, u in enumerate(unlabelled) if not u]
    unl = [i for i, u in enumerate(unlabelled) if u]
    logits, targets, certainty, ious = [], [], [], []
    if lab:
        pick = lambda seq: [seq[i] for i in lab]  # noqa: E731
        sub = replace(batch, images=pick(batch.images), points=pick(batch.points), boxes=pick(batch.boxes),
                      masks=pick(batch.masks), unlabelled=[False] * len(lab))
        out = model._sum_stage(x[lab], pick(gts), [False] * len(lab), sub, generator)
        logits, targets, certainty, ious = [out.logits], [out.targets], [out.certainty], [out.iou_pred]
    n_sup = sum(len(t) for t in logits)
    if unl:
        stage = AugSegStage(model, generator)
        stage.run(x[unl], [batch.images[i] for i in unl], [gts[i] for i in unl], batch.train_size)
        lg, tg, cert, iou = zip(*stage.rows)
        logits.append(torch.stack(lg)[:, None])
        targets.append(torch.stack(tg)[:, None])
        certainty.append(torch.stack([torch.full_like(t, c) for t, c in zip(tg, cert)])[:, None])
        ious.append(torch.stack(iou)[:, None])
    total = sum(len(t) for t in logits)
    consistency = torch.arange(total, device=x.device) >= n_sup
    return TrainingOutputs(torch.cat(logits), targets=torch.cat(targets), certainty=torch.cat(certainty),
                           iou_pred=torch.cat(ious), consistency=consistency)
