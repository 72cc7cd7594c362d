"""SUM's training forwards (Liu et al., NeurIPS 2024; facts from the paper and Kangningthu/SUM @ 2a1d378:
``utils/interactive_sampling.py``, ``sum_on_hq-sam/train``), as ``training_outputs`` of a ``Sam`` with SUM's
task-prompt encoder, so the generic trainer needs to know nothing of them.

Two stages, chosen by ``SumTrainingConfig.stage``:

* ``refine`` (paper §3.2.3, App. D): the mask-refinement module. SAM (the frozen initial weights) is
  prompted with one click on the ground-truth object; its multimask output closest to the ground truth is
  the pseudo-label. The module (SAM's prompt encoder and mask decoder, fine-tuned; encoder frozen) gets the
  pseudo-label logits as mask prompt, the box around the pseudo-label and the click, and is fitted to the
  ground truth. Pairs with pseudo-label IoU < 0.7 or failing SAM's mask filters carry no loss.
* ``sum`` (paper §3.2): interactive fine-tuning of all of SAM. Labelled items train against their ground
  truth with task prompt ``labelled_task`` in the first round; unlabelled items against a SAM pseudo-label
  (task prompt 0), with certainty ``c = 1 - |sigmoid(s) - sigmoid(r)|`` (Eq. 3; s the pseudo-label logits, r
  the refinement module's) weighting their loss and every prompt drawn from them (P_i = c_i / sum c).
  Rounds (App. B.1): a box or a point (1/2 each), five rounds of one click in the error region (positive
  where the target is missed, negative where the prediction overshoots), one round with no new click; every
  round after the first gets the previous low-res logits as mask prompt.

The paper's ablations are options of the ``sum`` stage (``CHOICES``; docs/training.md#sum maps each Table 2 /
Fig. 5 / App. F.2 row to its options): which mask is the pseudo-label, which uncertainty map, whether
prompts are drawn by certainty, and in which rounds the task prompt is added. ``semisup=u2pl`` is the
App. E.1 U2PL comparison: the uncertainty map no longer weights the loss (the standard losses on kept
pseudo-labels) but splits pixels for U2PL's contrastive term (``sum_semisup``), which also needs the
teacher's embeddings and answers for every item. ``semisup=augseg`` is the App. E.1 AugSeg comparison
(``sum_augseg``): labelled items as here, unlabelled ones trained for consistency with an EMA teacher.

The helpers (the initial SAM, the refinement module, AugSeg's teacher) live outside the module tree: they
are not trained, saved with the weights nor moved by the trainer; AugSeg's teacher is updated after each
optimizer step (``after_optimizer_step``) and kept in the run's checkpoints (``training_state``)."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Optional

import torch

from ..training import TrainingBatch, TrainingOutputs
from .configs import official
from .sum_augseg import augseg_outputs, ema_update
from .sum_semisup import contrast_inputs
from .training import TrainableSam


#: the values of SUM's ablation options (``SumTrainingConfig`` fields); the first is SUM's own
CHOICES = {"pseudo_label": ("sam", "refined"), "uncertainty": ("refiner", "confidence", "discrepancy", "none"),
           "prompt_sampling": ("certainty", "uniform"), "task_prompt": ("first", "all", "none"),
           "semisup": ("none", "u2pl", "augseg"), "augseg_prompt": ("mixed", "box", "grid"),
           "augseg_consistency": ("best", "multi")}


@dataclass(frozen=True)
class SumTrainingConfig:
    stage: str = "sum"  # "sum" (SUM fine-tuning) or "refine" (the mask-refinement module)
    rounds: int = 7
    labelled_task: int = 2  # task prompt of labelled items (1 salient, 2 entity, 3 part); unlabelled: 0
    min_pred_iou: float = 0.88  # SAM's automatic-mask filters (paper App. B.1)
    min_stability: float = 0.95
    max_area: float = 0.95
    refine_min_iou: float = 0.7  # refinement pairs kept when IoU(pseudo-label, ground truth) >= this (App. D.2)
    certainty_threshold: float = 0.6  # theta (App. B.1): U2PL's reliable / unreliable split (the loss reads it too)
    # the paper's ablations (Table 2, Fig. 5 / Table 1, App. F.2); the defaults are SUM itself
    pseudo_label: str = "sam"  # "sam", or "refined": the module's refined mask (Table 2 "Mask Refinement")
    uncertainty: str = "refiner"  # "refiner" (Eq. 3), "confidence", "discrepancy" (Fig. 5), "none" (Vanilla)
    prompt_sampling: str = "certainty"  # "certainty" (§3.2.2) or "uniform" (App. F.2 "w/o uncertainty sampling")
    task_prompt: str = "first"  # "first" (§3.2.4), "all" (Table 2 "Continuous TP") or "none"
    # the semi-supervised comparison rows (App. E.1): "u2pl" = standard losses + U2PL's contrastive term
    semisup: str = "none"
    # "augseg" (``sum_augseg``): EMA teacher, strong/weak consistency on unlabelled items, its prompt variants
    augseg_prompt: str = "mixed"  # "mixed" (Mixed-Prompt), "box" (Box-Prompt), "grid" (Uniform Point-Prompt)
    augseg_consistency: str = "best"  # "best" (the outputs closest to the pseudo-label) or "multi" (by token)
    augseg_grid_side: int = 32  # Uniform Point-Prompt: SAM's automatic-mask grid, points per side
    augseg_ema: float = 0.999  # AugSeg's ema_decay
    num_points: int = 1  # clicks of an unlabelled item's first point prompt (the recipe's num_points)

    def __post_init__(self):
        for key, valid in CHOICES.items():
            if getattr(self, key) not in valid:
                raise ValueError(f"SUM option {key}={getattr(self, key)!r}; valid: {', '.join(valid)}")

    @property
    def needs_refiner(self) -> bool:
        """Whether the trained mask-refinement module is read (its uncertainty maps or its refined masks)."""
        return self.semisup != "augseg" and (self.uncertainty == "refiner" or self.pseudo_label == "refined")


@dataclass
class SumHelpers:
    config: SumTrainingConfig
    labeller: torch.nn.Module  # the initial SAM, frozen: pseudo-labels
    refiner: Optional[torch.nn.Module] = None  # the trained mask-refinement module, frozen: uncertainty maps
    teacher: Optional[torch.nn.Module] = None  # AugSeg: the EMA teacher (saved with the run's checkpoints)
    teacher_steps: int = 0  # optimizer steps folded into the teacher


def weighted_pixel(region: torch.Tensor, weights: torch.Tensor, generator: Optional[torch.Generator]):
    """(x, y) of one pixel of ``region`` drawn with probability proportional to ``weights`` (uniform over
    the region when every weight there is 0, as a weightless draw would be); None for an empty region."""
    flat = (region.float() * weights).flatten()
    if not float(flat.sum()) > 0:
        flat = region.float().flatten()
        if not float(flat.sum()) > 0:
            return None
    idx = int(torch.multinomial(flat, 1, generator=generator))
    return idx % region.shape[1], idx // region.shape[1]


def weighted_pixels(region: torch.Tensor, weights: torch.Tensor, k: int, generator: Optional[torch.Generator]):
    """Up to ``k`` distinct pixels of ``region`` drawn by ``weights`` without replacement (the SUM HQ-SAM-arch
    code's ``masks_sample_points_with_weight``); one draw is ``weighted_pixel``'s. [] for an empty region."""
    if k == 1:
        one = weighted_pixel(region, weights, generator)
        return [] if one is None else [one]
    flat = (region.float() * weights).flatten()
    if int((flat > 0).sum()) < k:  # too few weighted pixels: uniform over the region, as a weightless draw
        flat = region.float().flatten()
    n = min(k, int((flat > 0).sum()))
    if n == 0:
        return []
    idx = torch.multinomial(flat, n, replacement=False, generator=generator).tolist()
    return [(i % region.shape[1], i // region.shape[1]) for i in idx]


def stability_score(logits: torch.Tensor, offset: float = 1.0) -> float:
    """SAM's stability: IoU of the masks thresholded at +offset and -offset (0 for an empty mask)."""
    union = int((logits > -offset).sum())
    return int((logits > offset).sum()) / union if union else 0.0


def box_of(mask: torch.Tensor) -> torch.Tensor:
    """[x0, y0, x1, y1] of the mask's extreme pixels (inclusive)."""
    ys, xs = torch.nonzero(mask, as_tuple=True)
    return torch.stack([xs.min(), ys.min(), xs.max(), ys.max()]).float()


def certainty_map(kind: str, s: torch.Tensor, r: Optional[torch.Tensor] = None,
                  b: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Per-pixel certainty c = 1 - u of a pseudo-label with logits ``s``. ``refiner``: Eq. 3 with ``r`` the
    refinement module's logits; ``confidence``: SAM's own logit confidence max(p, 1 - p), p = sigmoid(s)
    (Eq. 3 with the refined prediction replaced by the binary pseudo-label itself); ``discrepancy``: Eq. 3
    with ``r`` replaced by ``b``, a second prediction for the same target; ``none``: 1 everywhere."""
    p = torch.sigmoid(s)
    if kind == "refiner":
        return 1 - (p - torch.sigmoid(r)).abs()
    if kind == "confidence":
        return torch.maximum(p, 1 - p)
    if kind == "discrepancy":
        return 1 - (p - torch.sigmoid(b)).abs()
    if kind == "none":
        return torch.ones_like(s)
    raise ValueError(f"unknown SUM uncertainty {kind!r}; valid: refiner, confidence, discrepancy, none")


def _iou(a: torch.Tensor, b: torch.Tensor) -> float:
    union = int((a | b).sum())
    return int((a & b).sum()) / union if union else 0.0


class SumSam(TrainableSam):
    """``Sam`` with SUM's task-prompt encoder and SUM's two training forwards."""

    sum_helpers: Optional[SumHelpers] = None

    def attach_training(self, config: SumTrainingConfig, labeller: torch.nn.Module,
                        refiner: Optional[torch.nn.Module] = None) -> None:
        for m in (labeller, refiner):
            if m is not None:
                m.eval().requires_grad_(False)
        teacher = None
        if config.semisup == "augseg":  # the teacher starts as the student (AugSeg: both from the same weights)
            self.sum_helpers = None
            teacher = copy.deepcopy(self).eval().requires_grad_(False)
        self.sum_helpers = SumHelpers(config, labeller, refiner, teacher)  # a plain attribute: not a submodule

    def after_optimizer_step(self) -> None:
        """AugSeg: fold the student's new weights into the EMA teacher."""
        h = self.sum_helpers
        if h is not None and h.teacher is not None:
            h.teacher_steps += 1
            ema_update(h.teacher, self, h.teacher_steps, h.config.augseg_ema)

    def training_state(self) -> dict:
        """What a checkpoint must hold besides the trained weights: AugSeg's teacher and its step count."""
        h = self.sum_helpers
        if h is None or h.teacher is None:
            return {}
        return {**{f"teacher/{k}": v for k, v in h.teacher.state_dict().items()},
                "teacher_steps": torch.tensor(h.teacher_steps)}

    def load_training_state(self, state: dict) -> None:
        h = self.sum_helpers
        if h is None or h.teacher is None:
            return
        h.teacher.load_state_dict({k[len("teacher/"):]: v for k, v in state.items() if k.startswith("teacher/")})
        h.teacher_steps = int(state["teacher_steps"])

    # building blocks ----------------------------------------------------------------------------------

    def _embed(self, encoder, points: list, labels: list, box, mask_in, task: int, size: int):
        """Prompt embeddings; the task prompt is added only for task > 0, so the zero task vector stays
        untouched (the SUM code keeps it out of the gradient, ``zero_token_no_grad``)."""
        device = self.pixel_mean.device
        scale = self.image_encoder.img_size / size
        pts = None
        if points:
            pts = (torch.tensor(points, dtype=torch.float32, device=device)[None] * scale,
                   torch.tensor(labels, dtype=torch.int, device=device)[None])
        boxes = None if box is None else box.to(device)[None] * scale
        sparse, dense = official.PromptEncoder.forward(encoder, points=pts, boxes=boxes, masks=mask_in)
        if task:
            dense = dense + encoder.task_prompt_embedding[task].weight.reshape(1, -1, 1, 1)
        return sparse, dense

    def _features(self, owner, x: torch.Tensor):
        """``owner``'s image features of ``x``, sliceable per image (HQ-SAM adds its early ViT features)."""
        return owner.image_encoder(x)

    def _decode(self, owner, emb, sparse, dense, multimask: bool):
        return owner.mask_decoder(image_embeddings=emb, image_pe=owner.prompt_encoder.get_dense_pe(),
                                  sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                                  multimask_output=multimask)

    def _pseudo_label(self, emb, gt: torch.Tensor, size: int, generator, by_gt: bool):
        """SAM's answer to one click on the object: (click, low-res logits, logits at size, kept by SAM's
        filters, IoU with ``gt``). ``by_gt``: the output closest to ``gt`` (refinement training), else the
        one SAM scores highest (its automatic mask generation)."""
        h = self.sum_helpers
        cfg, lab = h.config, h.labeller
        click = weighted_pixel(gt, torch.ones_like(gt, dtype=torch.float32), generator)
        sparse, dense = self._embed(lab.prompt_encoder, [click], [1], None, None, 0, size)
        low, scores = self._decode(lab, emb, sparse, dense, multimask=True)
        up = self.to_train_size(low, size)[0]
        ious = [_iou(u > 0, gt) for u in up]
        k = max(range(len(ious)), key=ious.__getitem__) if by_gt else int(scores[0].argmax())
        s = up[k]
        area = float((s > 0).float().mean())
        keep = (float(scores[0, k]) >= cfg.min_pred_iou and stability_score(s) >= cfg.min_stability
                and 0 < area < cfg.max_area)
        return click, low[:, k:k + 1], s, keep, ious[k]

    def _refined(self, owner, emb, click, low, s: torch.Tensor, size: int) -> torch.Tensor:
        """The refinement module's logits at size: mask prompt = SAM's logits, plus their box and the click."""
        sparse, dense = self._embed(owner.prompt_encoder, [click], [1], box_of(s > 0), low, 0, size)
        out, _ = self._decode(owner, emb, sparse, dense, multimask=False)
        return self.to_train_size(out, size)[0, 0]

    def _box_answer(self, owner, emb, s: torch.Tensor, size: int) -> torch.Tensor:
        """``owner``'s single-output logits at size for the box around the pseudo-label ``s > 0``: the
        second prediction for the same target that SUM Discrepancy-Uncer compares with (App. E.1 prompts
        with "a bounding box derived from the pseudo label")."""
        if not bool((s > 0).any()):
            return s
        sparse, dense = self._embed(owner.prompt_encoder, [], [], box_of(s > 0), None, 0, size)
        out, _ = self._decode(owner, emb, sparse, dense, multimask=False)
        return self.to_train_size(out, size)[0, 0]

    # the two stages ---------------------------------------------------------------------------------

    def training_outputs(self, batch: TrainingBatch, *, generator: Optional[torch.Generator] = None,
                         gumbel_tau: float = 0.5) -> TrainingOutputs:
        h = self.sum_helpers
        if h is None or batch.masks is None:
            raise RuntimeError("SUM training needs attach_training(...) and the batch's masks")
        device = self.pixel_mean.device
        for m in (h.labeller, h.refiner, h.teacher):
            if m is not None:
                m.to(device)
        gts = [torch.as_tensor(m, device=device).bool() for m in batch.masks]
        unlabelled = list(batch.unlabelled) if batch.unlabelled is not None else [False] * len(gts)
        x = self.training_input(batch.images)
        if h.config.stage == "refine":
            return self._refine_stage(x, gts, unlabelled, batch.train_size, generator)
        if h.config.semisup == "augseg":
            return augseg_outputs(self, x, gts, unlabelled, batch, generator)
        return self._sum_stage(x, gts, unlabelled, batch, generator)

    def _refine_stage(self, x, gts, unlabelled, size, generator) -> TrainingOutputs:
        with torch.no_grad():
            emb = self._features(self, x)  # frozen in this stage, so it is the initial SAM's embedding
        logits, certainty = [], []
        for i, gt in enumerate(gts):
            with torch.no_grad():
                click, low, s, keep, iou = self._pseudo_label(emb[i:i + 1], gt, size, generator, by_gt=True)
            keep = keep and iou >= self.sum_helpers.config.refine_min_iou and not unlabelled[i]
            logits.append(self._refined(self, emb[i:i + 1], click, low, s, size))
            certainty.append(torch.full_like(s, float(keep)))
        return TrainingOutputs(torch.stack(logits)[:, None], certainty=torch.stack(certainty)[:, None])

    def _targets(self, x, gts, unlabelled, size, generator):
        """Per item: the target (ground truth, or SAM's pseudo-label) and its per-pixel certainty; with
        ``semisup=u2pl`` also the teacher (the initial SAM): its embeddings, its logits per item (for
        labelled items its answer to one click on the ground truth, drawn after every pseudo-label so those
        draws stay SUM's) and whether each pseudo-label passed SAM's filters."""
        h = self.sum_helpers
        targets, certainty, teacher = [], [], {}
        cfg, idx = h.config, [i for i, u in enumerate(unlabelled) if u]
        if idx and cfg.needs_refiner and h.refiner is None:
            raise RuntimeError("unlabelled items need the mask-refinement module (attach_training refiner=)")
        u2pl = cfg.semisup == "u2pl"
        rows = list(range(len(gts))) if u2pl else idx
        with torch.no_grad():
            emb_l = self._features(h.labeller, x[rows]) if rows else None
            for i, gt in enumerate(gts):
                if not unlabelled[i]:
                    targets.append(gt.float())
                    certainty.append(torch.ones_like(gt, dtype=torch.float32))
                    continue
                j = rows.index(i)
                click, low, s, keep, _ = self._pseudo_label(emb_l[j:j + 1], gt, size, generator, by_gt=False)
                e = emb_l[j:j + 1]
                r = self._refined(h.refiner, e, click, low, s, size) if cfg.needs_refiner else None
                b = self._box_answer(h.labeller, e, s, size) if cfg.uncertainty == "discrepancy" else None
                c = certainty_map(cfg.uncertainty, s, r, b)
                targets.append(((r if cfg.pseudo_label == "refined" else s) > 0).float())
                certainty.append(c if keep else torch.zeros_like(c))
                teacher[i] = (s, keep)
            if u2pl:
                for i in (i for i, u in enumerate(unlabelled) if not u):
                    teacher[i] = (self._pseudo_label(emb_l[i:i + 1], gts[i], size, generator, by_gt=False)[2], True)
        if not u2pl:
            return targets, certainty, None
        return targets, certainty, (emb_l, [teacher[i][0] for i in range(len(gts))],
                                    [teacher[i][1] for i in range(len(gts))])

    def _sum_stage(self, x, gts, unlabelled, batch: TrainingBatch, generator) -> TrainingOutputs:
        cfg, size = self.sum_helpers.config, batch.train_size
        targets, certainty, teacher = self._targets(x, gts, unlabelled, size, generator)
        # prompts drawn with P_i = c_i / sum c (§3.2.2), or uniformly over the region as SAM (App. F.2 ablation)
        weights = certainty if cfg.prompt_sampling == "certainty" else [torch.ones_like(c) for c in certainty]
        first_task = [0 if u or cfg.task_prompt == "none" else cfg.labelled_task for u in unlabelled]
        emb = self._features(self, x)
        contrast = None
        if teacher is not None:  # U2PL: the map splits pixels for the contrastive term; the loss is standard
            contrast = contrast_inputs(emb, teacher[0], targets, teacher[1], certainty, teacher[2], unlabelled,
                                       cfg.certainty_threshold)
            certainty = [torch.full_like(c, float(k)) for c, k in zip(certainty, teacher[2])]  # Vanilla's weights
        prompts = []  # per item: [points, labels, box, previous low-res logits, previous prediction]
        for i, (t, c) in enumerate(zip(targets, certainty)):
            if unlabelled[i]:  # the first prompt, like every later one, drawn by certainty
                if float(torch.rand(1, generator=generator, device=t.device)) < 0.5:  # generator on t's device
                    box = box_of(t > 0) if bool((t > 0).any()) else None
                    pts = [] if box is not None else weighted_pixels(t > 0, weights[i], cfg.num_points, generator)
                else:
                    box, pts = None, weighted_pixels(t > 0, weights[i], cfg.num_points, generator)
                prompts.append([pts, [1] * len(pts), box, None, None])
            else:
                p, b = batch.points[i], batch.boxes[i]
                pts = [] if p is None else [(float(px), float(py)) for px, py in p]
                prompts.append([pts, [1] * len(pts), None if b is None else torch.as_tensor(b).float(), None, None])
        logits, ious = [], []
        for r in range(cfg.rounds):
            for i, (t, c) in enumerate(zip(targets, certainty)):
                pts, labels, box, mask_in, pred = prompts[i]
                if 0 < r < cfg.rounds - 1:  # one click in the error region; the last round adds none
                    click = weighted_pixel(pred != (t > 0), weights[i], generator)
                    if click is not None:
                        pts.append(click)
                        labels.append(int(t[click[1], click[0]] > 0))
                task = first_task[i] if r == 0 or cfg.task_prompt == "all" else 0
                sparse, dense = self._embed(self.prompt_encoder, pts, labels, box, mask_in, task, size)
                low, iou = self._decode(self, emb[i:i + 1], sparse, dense, multimask=False)
                out = self.to_train_size(low, size)
                prompts[i][3], prompts[i][4] = low.detach(), out[0, 0].detach() > 0
                logits.append(out)
                ious.append(iou)
        rounds = cfg.rounds
        return TrainingOutputs(torch.cat(logits), targets=torch.stack(targets * rounds)[:, None],
                               certainty=torch.stack(certainty * rounds)[:, None], iou_pred=torch.cat(ious),
                               contrast=contrast)
