"""U2PL's pixel-contrastive loss (Wang et al., "Semi-Supervised Semantic Segmentation Using Unreliable
Pseudo-Labels", CVPR 2022; facts from Haochen-Wang409/U2PL @ ab3d2be ``u2pl/utils/loss_helper.py``
``compute_contra_memobank_loss``, ``train_semi.py`` and ``experiments/pascal/1464/ours/config.yaml``), for the
binary masks of SUM's U2PL comparison row (SUM paper App. E.1).

Per class k (0 background, 1 foreground), with q_k the teacher's probability of k:

* anchors: cells of class k that are reliable with q_k > 0.3 (``current_class_threshold``), the student's
  features, ``num_queries`` = 256 drawn uniformly with replacement;
* positive: the class prototype, the mean teacher feature over the reliable cells of class k;
* negatives: unreliable cells with q_k < 1 (``current_class_negative_threshold``) that pass U2PL's rank rule,
  teacher features, 256 x 50 (``num_negatives``) drawn uniformly with replacement. The rule (paper Eqs. 14-15):
  a labelled cell not of class k where k ranks among the top r_l classes; an unlabelled cell where k ranks in
  [r_l, r_h). The config's r_l = 3, r_h = 20 leave no unlabelled negative with two classes; U2PL's author
  advises r_l = 1 for two classes (Haochen-Wang409/U2PL issue #11), and r_h = 2 is the only rank left: so a
  labelled negative of k is a cell of the other class the teacher gives to k (q_k > 0.5), an unlabelled one a
  cell the teacher does not give to k (q_k < 0.5). The code also multiplies by the one-hot label of k, which
  empties the labelled negatives (issue #171) and, with pseudo-labels that are the teacher's argmax, the
  unlabelled ones too; the paper's rule is followed.
* loss: cross-entropy of [cos(anchor, positive), cos(anchor, negatives)] / temperature 0.5 with the positive as
  the class, summed over classes with anchors and negatives, divided by the classes with reliable cells;
  0 when fewer than two classes have any (as U2PL's "a mini-batch might only contain 1 or no class").

Ours: negatives come from the current batch (U2PL queues teacher keys over iterations in a memory bank of
30,000-50,000 per class), so a step is a function of its batch and seed alone and a resumed run draws alike;
the draws use the step's generator."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

TEMPERATURE = 0.5  # config.yaml contrastive.temperature
NUM_QUERIES = 256  # contrastive.num_queries
NUM_NEGATIVES = 50  # contrastive.num_negatives
ANCHOR_THRESHOLD = 0.3  # contrastive.current_class_threshold (delta_p)
NEGATIVE_THRESHOLD = 1.0  # contrastive.current_class_negative_threshold (delta_n)


def _draw(n: int, size: int, generator: Optional[torch.Generator], device) -> torch.Tensor:
    gen_device = generator.device if generator is not None else device
    return torch.randint(n, (size,), generator=generator, device=gen_device).to(device)


def u2pl_contrastive(ci, generator: Optional[torch.Generator] = None, temperature: float = TEMPERATURE,
                     num_queries: int = NUM_QUERIES, num_negatives: int = NUM_NEGATIVES) -> torch.Tensor:
    """U2PL's contrastive loss on ``ci`` (``baselines.sam.sum_semisup.ContrastInputs``)."""
    rep = ci.student.permute(0, 2, 3, 1).float()
    rep_t = ci.teacher.permute(0, 2, 3, 1).float().detach()
    labelled = ci.labelled[:, None, None].expand_as(ci.label)
    total, valid = 0 * rep.sum(), 0
    for k in (0, 1):
        q = ci.prob if k else 1 - ci.prob
        of_k = ci.label == k
        low = of_k & ci.reliable
        if not bool(low.any()):
            continue
        valid += 1
        first = q > 0.5  # k is the teacher's top class (rank 0 of 2)
        negative = ci.unreliable & (q < NEGATIVE_THRESHOLD) & torch.where(labelled, ~of_k & first, ~first)
        anchors, keys = rep[low & (q > ANCHOR_THRESHOLD)], rep_t[negative]
        if not len(anchors) or not len(keys):
            continue
        anchor = anchors[_draw(len(anchors), num_queries, generator, rep.device)]
        neg = keys[_draw(len(keys), num_queries * num_negatives, generator, rep.device)]
        pos = rep_t[low].mean(0)
        allk = torch.cat([pos.expand(num_queries, 1, -1), neg.reshape(num_queries, num_negatives, -1)], dim=1)
        logits = F.cosine_similarity(anchor[:, None], allk, dim=2) / temperature
        total = total + F.cross_entropy(logits, torch.zeros(num_queries, dtype=torch.long, device=rep.device))
    return total / valid if valid > 1 else 0 * rep.sum()
