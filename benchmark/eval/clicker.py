"""The standard interactive clicker (Xu et al. 2016; RITM, SimpleClick, SAM, SUM evaluate this way)
and NoC: click, predict, click where the error is worst, feed the previous logits back.

Next click: the pixel farthest inside the false-negative or the false-positive region (Euclidean
distance transform of each region padded with background, so the image border counts as region
boundary; already clicked pixels are excluded). Positive if the false-negative maximum is strictly
larger, else negative (RITM's rule); ties between pixels go to the first in row-major order. The first
click (empty prediction) is therefore ``protocols.farthest_point`` of the ground truth.

SUM's other first prompts (its Appendix B.3: "The initial prompt may be either a bounding box or a
point"): ``first="box"`` sends the tight ground-truth box alone in round 1 and keeps it, with every
click so far, in the later rounds (SAM's predictor takes a box and points together); ``first="boundary"``
places the first click on ``protocols.boundary_point`` instead of the farthest point."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np

from baselines.contract import Prediction, Prompts, validate_prediction

from .metrics import instance_metrics
from .protocols import boundary_point, exact_distance, tight_box

FIRST_PROMPTS = ("point", "box", "boundary")

MAX_CLICKS = 20
NOC_THRESHOLDS = (0.85, 0.90)

PredictFn = Callable[[Prompts, bool], Prediction]


@dataclass(frozen=True)
class Click:
    x: int  # column index
    y: int  # row index
    positive: bool


@dataclass
class RoundResult:
    """The state after ``round`` clicks: the click just added and the metrics of the chosen mask."""

    round: int
    click: Optional[Click]  # None for a round that added no click (the box of a box-first round 1)
    candidate: int  # index of the chosen mask among the model's K outputs
    score: float  # the model's predicted score of the chosen mask
    iou: float
    dice: float
    pixel_accuracy: float
    boundary_iou: float


def _padded_distance(region: np.ndarray) -> np.ndarray:
    return exact_distance(np.pad(region.astype(np.uint8), 1))[1:-1, 1:-1]


def next_click(gt: np.ndarray, pred: np.ndarray, clicked: Optional[np.ndarray] = None) -> Optional[Click]:
    """The next click for prediction ``pred`` of ``gt``; None when no unclicked error pixel is left.
    ``clicked``: bool (H, W), True where a click was already placed.

    Computed on the bounding box of ``gt | pred``, which holds both error regions: beyond it both
    regions are empty, which is also how the padded distance treats the crop's edge, and row-major
    order inside the crop is row-major order in the image, so the click is the full-image one."""
    union = gt | pred
    rows, cols = np.flatnonzero(union.any(axis=1)), np.flatnonzero(union.any(axis=0))
    if rows.size == 0:
        return None
    y0, x0 = int(rows[0]), int(cols[0])
    crop = (slice(y0, int(rows[-1]) + 1), slice(x0, int(cols[-1]) + 1))
    g, p = gt[crop], pred[crop]
    fn_dt = _padded_distance(g & ~p)
    fp_dt = _padded_distance(~g & p)
    if clicked is not None:
        c = clicked[crop]
        fn_dt[c] = 0
        fp_dt[c] = 0
    fn_max, fp_max = float(fn_dt.max()), float(fp_dt.max())
    if fn_max <= 0 and fp_max <= 0:
        return None
    positive = fn_max > fp_max
    y, x = np.unravel_index(int(np.argmax(fn_dt if positive else fp_dt)), g.shape)
    return Click(int(x) + x0, int(y) + y0, positive)


def _prompts(clicks: Sequence[Click], mask_input: Optional[np.ndarray], box: Optional[np.ndarray] = None
             ) -> Prompts:
    boxes = None if box is None else box[None]
    if not clicks:
        return Prompts(boxes=boxes, mask_inputs=mask_input)
    pts = np.array([[[c.x, c.y] for c in clicks]], dtype=np.float32)
    labels = np.array([[1 if c.positive else 0 for c in clicks]], dtype=np.int32)
    return Prompts(points=pts, point_labels=labels, boxes=boxes, mask_inputs=mask_input)


def _first_click(first: str, gt: np.ndarray) -> Optional[Click]:
    if first == "boundary":
        x, y = boundary_point(gt)
        return Click(int(x), int(y), True)
    return None if first == "box" else next_click(gt, np.zeros_like(gt))


class ClickSession:
    """One instance's clicker between rounds, so that a scheduler can interleave the rounds of many
    instances (and batch their prompts) while each instance follows exactly ``run_interactive``'s rules.

    ``next_prompts()`` places the next click and returns the one prompt (B = 1) to predict, or None when
    the instance is finished; ``take(pred, i)`` consumes row ``i`` of the prediction for that prompt."""

    def __init__(self, gt: np.ndarray, *, max_clicks: int = MAX_CLICKS, oracle: bool = False,
                 stop_iou: Optional[float] = None, dilation_ratio: float = 0.02, where: str = "",
                 first: str = "point"):
        if first not in FIRST_PROMPTS:
            raise ValueError(f"first must be one of {', '.join(FIRST_PROMPTS)}, not {first!r}")
        gt = np.asarray(gt, dtype=bool)
        if gt.ndim != 2 or not gt.any():
            raise ValueError(f"{where or 'interactive'}: ground truth must be a non-empty (H, W) mask")
        self.gt, self.max_clicks, self.oracle, self.stop_iou = gt, max_clicks, oracle, stop_iou
        self.dilation_ratio, self.where, self.first = dilation_ratio, where, first
        self.box = tight_box(gt) if first == "box" else None
        self.clicks: list[Click] = []
        self.click: Optional[Click] = None  # the click of the round awaiting ``take`` (None: box alone)
        self.clicked = np.zeros_like(gt)
        self.chosen_mask = np.zeros_like(gt)
        self.mask_input: Optional[np.ndarray] = None
        self.results: list[RoundResult] = []
        self.round = 0  # the round whose prediction ``take`` expects (prompts sent so far)
        self.done = False

    def next_prompts(self) -> Optional[Prompts]:
        r = self.round + 1
        if self.done or r > self.max_clicks:
            self.done = True
            return None
        click = _first_click(self.first, self.gt) if r == 1 else next_click(self.gt, self.chosen_mask, self.clicked)
        if click is None and not (r == 1 and self.first == "box"):
            # the prediction cannot change any more: repeat the last result
            last = self.results[-1]
            self.results.extend(RoundResult(**{**last.__dict__, "round": k}) for k in range(r, self.max_clicks + 1))
            self.done = True
            return None
        if click is not None:
            self.clicks.append(click)
            self.clicked[click.y, click.x] = True
        self.round, self.click = r, click
        return _prompts(self.clicks, self.mask_input, self.box)

    def take(self, pred: Prediction, i: int = 0) -> None:
        cand = [instance_metrics(pred.masks[i, k], self.gt, self.dilation_ratio) for k in range(pred.masks.shape[1])]
        k = int(np.argmax([c["iou"] for c in cand])) if self.oracle else int(np.argmax(pred.scores[i]))
        self.chosen_mask = pred.masks[i, k]
        self.mask_input = None if pred.logits is None else np.asarray(pred.logits[i, k][None, None], dtype=np.float32)
        self.results.append(RoundResult(self.round, self.click, k, float(pred.scores[i, k]), **cand[k]))
        if self.stop_iou is not None and cand[k]["iou"] >= self.stop_iou:
            self.done = True


def run_interactive(predict: PredictFn, gt: np.ndarray, *, max_clicks: int = MAX_CLICKS, multimask: bool = False,
                    oracle: bool = False, stop_iou: Optional[float] = None, dilation_ratio: float = 0.02,
                    where: str = "", first: str = "point") -> list[RoundResult]:
    """Simulate up to ``max_clicks`` rounds on one instance; ``predict(prompts, multimask)`` answers one
    prompt (B = 1) on the image already set. Each round sends every click so far plus the low-res logits
    of the previously chosen mask (``mask_inputs``; None in round 1 or if the model gives no logits).

    Candidate choice among K outputs: the highest predicted score, or with ``oracle`` the highest IoU
    against the ground truth (SUM's "best of 3"); ties go to the lower index. The next click is placed
    on the chosen mask's errors. Stops early when IoU >= ``stop_iou``, or when no unclicked error pixel
    is left: then the prediction cannot change, so the last result is repeated up to ``max_clicks``.
    ``first``: the round-1 prompt, ``point`` (the clicker's own), ``box`` or ``boundary`` (module doc);
    with ``box`` the rounds count prompts, so round N holds the box and N - 1 clicks."""
    s = ClickSession(gt, max_clicks=max_clicks, oracle=oracle, stop_iou=stop_iou, dilation_ratio=dilation_ratio,
                     where=where, first=first)
    h, w = s.gt.shape
    while (prompts := s.next_prompts()) is not None:
        pred = predict(prompts, multimask)
        validate_prediction(pred, 1, h, w, where=f"{where} round {s.round}".strip())
        s.take(pred)
    return s.results


def noc(ious: Sequence[float], threshold: float, max_clicks: int = MAX_CLICKS) -> int:
    """Number of clicks to first reach IoU >= threshold; ``max_clicks`` if it is never reached within
    ``max_clicks`` (the standard convention: a failure counts as the budget)."""
    for i, v in enumerate(ious[:max_clicks], start=1):
        if v >= threshold:
            return i
    return max_clicks


def noc_summary(per_instance_ious: Sequence[Sequence[float]], thresholds: Sequence[float] = NOC_THRESHOLDS,
                max_clicks: int = MAX_CLICKS) -> dict[str, float]:
    """Mean NoC@t and NoF@t (instances that never reach t within the budget) over instances."""
    out: dict[str, float] = {}
    for t in thresholds:
        tag = f"{round(100 * t)}"
        counts = [noc(ious, t, max_clicks) for ious in per_instance_ious]
        reached = [any(v >= t for v in ious[:max_clicks]) for ious in per_instance_ious]
        out[f"NoC@{tag}"] = float(np.mean(counts)) if counts else float("nan")
        out[f"NoF@{tag}"] = float(len(reached) - sum(reached))
    return out
