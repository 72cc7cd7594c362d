"""What SUM's U2PL comparison row (SUM paper App. E.1 "U2PL") needs from a training forward, at the image
embedding's grid: the student's and the teacher's image embeddings, the target class of every cell
(0 background, 1 foreground), the teacher's foreground probability, and which cells are reliable
(anchor and prototype candidates) or unreliable (negative candidates).

U2PL (Wang et al., CVPR 2022; Haochen-Wang409/U2PL @ ab3d2be) splits unlabelled pixels by the entropy of the
teacher's prediction; SUM's adaptation "adopt[s] the same uncertainty map as used in SUM for the U2PL", so a
pseudo-labelled cell is reliable where SUM's certainty exceeds theta (the Dice filter's threshold) and
unreliable elsewhere. Labelled cells are both (U2PL's ``low_mask_all`` / ``high_mask_all`` are 1 on every
valid labelled pixel). A pseudo-label SAM's filters dropped is invalid (U2PL's ignore label 255): neither.
U2PL downsamples labels and masks to the feature grid by nearest interpolation; so is everything here."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class ContrastInputs:
    student: torch.Tensor  # (B, C, h, w) the trained model's image embeddings (anchors; with gradient)
    teacher: torch.Tensor  # (B, C, h, w) the teacher's image embeddings (prototypes, negatives; no gradient)
    label: torch.Tensor  # (B, h, w) long: 1 foreground, 0 background (ground truth or pseudo-label)
    prob: torch.Tensor  # (B, h, w) the teacher's foreground probability
    reliable: torch.Tensor  # (B, h, w) bool: U2PL's low_mask (low entropy; here certainty > theta)
    unreliable: torch.Tensor  # (B, h, w) bool: U2PL's high_mask (high entropy; here certainty <= theta)
    labelled: torch.Tensor  # (B,) bool: the item has its ground truth


def _down(t: torch.Tensor, grid) -> torch.Tensor:
    return F.interpolate(t[None, None].float(), size=tuple(grid), mode="nearest")[0, 0]


def contrast_inputs(student: torch.Tensor, teacher: torch.Tensor, targets: Sequence[torch.Tensor],
                    teacher_logits: Sequence[torch.Tensor], certainty: Sequence[torch.Tensor],
                    kept: Sequence[bool], unlabelled: Sequence[bool], theta: float) -> ContrastInputs:
    """``targets``, ``teacher_logits`` and ``certainty`` (SUM's map; 1 on labelled items) at train size, per
    item; ``kept``: the pseudo-label passed SAM's filters (True for labelled items)."""
    grid = student.shape[-2:]
    label, prob, reliable, unreliable = [], [], [], []
    for t, s, c, keep, unl in zip(targets, teacher_logits, certainty, kept, unlabelled):
        c = _down(c, grid)
        valid = torch.full_like(c, bool(keep), dtype=torch.bool)
        label.append(_down(t, grid).round().long())
        prob.append(_down(torch.sigmoid(s.float()), grid))
        reliable.append(valid & (c > theta) if unl else valid)
        unreliable.append(valid & (c <= theta) if unl else valid)
    labelled = torch.tensor([not u for u in unlabelled], device=student.device)
    return ContrastInputs(student, teacher.detach(), torch.stack(label), torch.stack(prob), torch.stack(reliable),
                          torch.stack(unreliable), labelled)
