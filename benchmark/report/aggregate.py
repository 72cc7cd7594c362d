"""Per-instance results -> leaderboard cells: means with bootstrap CIs, robustness gaps, AP,
NoC and per-click curves, uncertainty summaries. Pure pandas/numpy on the results table."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..eval.ap import ImageInstances, Instance, coco_ap
from ..eval.clicker import noc_summary
from ..eval.protocols import EVAL_PROTOCOLS
from ..eval.uncertainty import ece
from ..vocab import AP_LABELS, MEAN_METRICS, NOC_THRESHOLDS, UNCERTAINTY_METRICS, track_of
from . import stats

CELL_KEYS = ["dataset", "model", "protocol", "condition", "severity"]
INSTANCE_KEY = ["image_id", "object_id"]


@dataclass(frozen=True)
class Cell:
    """One leaderboard cell group: a (track, dataset, model, protocol, condition, severity) with values."""

    track: str
    dataset: str
    model: str
    protocol: str
    condition: str
    severity: int
    instances: int
    values: dict  # label -> value (percent; NoC in clicks)
    ci: dict = field(default_factory=dict)  # label -> (low, high), bootstrap 95%


def _mean_ci(values: np.ndarray, key: str) -> tuple[float, tuple[float, float]]:
    m, lo, hi = stats.bootstrap_mean_ci(values, key=key)
    return 100 * m, (100 * lo, 100 * hi)


def _gap(g: pd.DataFrame, clear: pd.DataFrame | None, key: str) -> float:
    """mIoU(clear) - mIoU(this condition) on the instances present in both, in points."""
    if clear is None or g.empty:
        return math.nan
    c, d, _ = stats.match_pairs(list(zip(clear.image_id, clear.object_id)), clear.iou.to_numpy(),
                                list(zip(g.image_id, g.object_id)), g.iou.to_numpy(), key)
    return 100 * float((c - d).mean()) if c.size else math.nan


def one_shot_cells(df: pd.DataFrame) -> list[Cell]:
    """Mean metrics with CIs and the robustness gap for every one-shot protocol cell."""
    cells = []
    df = df[df.protocol.map(lambda p: not EVAL_PROTOCOLS.get(p, EVAL_PROTOCOLS["box"]).clicks)]
    clear_of = {k: g for k, g in df[df.condition == "clear"].groupby(["dataset", "model", "protocol"])}
    for (dataset, model, protocol, condition, severity), g in df.groupby(CELL_KEYS, sort=True):
        key = f"{dataset}/{model}/{protocol}/{condition}/{severity}"
        values, ci = {}, {}
        for col, label in MEAN_METRICS.items():
            v = g[col].dropna().to_numpy()
            if v.size:
                values[label], ci[label] = _mean_ci(v, f"{key}/{label}")
        if condition != "clear":
            values["gap"] = _gap(g, clear_of.get((dataset, model, protocol)), f"{key}/gap")
        cells.append(Cell(track_of(protocol, g.source.iloc[0]), dataset, model, protocol, condition, int(severity),
                          len(g), values, ci))
    return cells


def frame_ap(g: pd.DataFrame, by_category: bool = True) -> dict[str, float]:
    """COCO AP family (pycocotools, fractions) of result rows that kept their masks. Images are keyed by
    (split, image_id), so rows pooled over conditions stay distinct images; ``by_category`` False treats
    every instance as one class, as the papers' class-agnostic promptable AP does."""
    images = []
    for (split, image_id), gi in g.groupby(["split", "image_id"], sort=True):
        h, w = int(gi.height.iloc[0]), int(gi.width.iloc[0])
        cats = gi.category.tolist() if by_category else [1] * len(gi)
        rows = list(zip(gi.gt_rle.tolist(), gi.area.tolist(), gi.pred_rle.tolist(), gi.score.tolist(), cats))
        images.append(ImageInstances(
            f"{split}/{image_id}", h, w,
            gts=[Instance({"size": [h, w], "counts": gt}, c, area=float(area)) for gt, area, _, _, c in rows],
            preds=[Instance({"size": [h, w], "counts": pred}, c, score=float(score))
                   for _, _, pred, score, c in rows]))
    return coco_ap(images)


def ap_cells(df: pd.DataFrame) -> list[Cell]:
    """COCO AP family per cell, from the stored ground-truth and predicted masks; the detection score is
    the model's predicted score of the chosen mask."""
    cells = []
    df = df[df.gt_rle.notna() & df.pred_rle.notna()]
    for (dataset, model, protocol, condition, severity), g in df.groupby(CELL_KEYS, sort=True):
        ap = frame_ap(g)
        values = {label: 100 * ap[label] for label in AP_LABELS if label in ap}
        cells.append(Cell("ap", dataset, model, protocol, condition, int(severity), len(g), values))
    return cells


def interactive_cells(df: pd.DataFrame) -> list[Cell]:
    """Per-click mIoU/mBIoU (every round, as SUM reports) for protocols that run every round, and
    NoC@85/90 (clicks, at most 20; a failure counts 20) for the 20-click protocol."""
    cells = []
    df = df[df.protocol.map(lambda p: bool(EVAL_PROTOCOLS.get(p) and EVAL_PROTOCOLS[p].clicks))]
    for (dataset, model, protocol, condition, severity), g in df.groupby(CELL_KEYS, sort=True):
        spec = EVAL_PROTOCOLS[protocol]
        key = f"{dataset}/{model}/{protocol}/{condition}/{severity}"
        per_instance = [grp.sort_values("round").iou.to_numpy() for _, grp in g.groupby(INSTANCE_KEY, sort=True)]
        track = track_of(protocol, g.source.iloc[0])
        track = "interactive" if track != "real_degradations" else track
        # per-click means only where every instance has every round (no early stop), else they would
        # average over the instances still running
        for k in range(1, spec.clicks + 1 if spec.stop_iou is None else 1):
            gk = g[g["round"] == k]
            values, ci = {}, {}
            for col, label in (("iou", "mIoU"), ("boundary_iou", "mBIoU")):
                if len(gk):
                    values[label], ci[label] = _mean_ci(gk[col].to_numpy(), f"{key}/{k}/{label}")
            cells.append(Cell(track, dataset, model, f"{protocol}@{k}", condition, int(severity), len(gk), values, ci))
        if spec.clicks >= 20:
            summary = noc_summary(per_instance, [t / 100 for t in NOC_THRESHOLDS], spec.clicks)
            values = {f"NoC{t}": summary[f"NoC@{t}"] for t in NOC_THRESHOLDS}
            cells.append(Cell(track, dataset, model, protocol, condition, int(severity), len(per_instance), values))
    return cells


def uncertainty_cells(df: pd.DataFrame) -> list[Cell]:
    """Means of the pixel-level uncertainty metrics, and mask-level ECE (score vs IoU), for models
    that returned uncertainty maps."""
    cells = []
    df = df[df.unc_auroc.notna() | df.aurc.notna()]
    for (dataset, model, protocol, condition, severity), g in df.groupby(CELL_KEYS, sort=True):
        values = {label: 100 * float(g[col].dropna().mean()) for col, label in UNCERTAINTY_METRICS.items()
                  if g[col].notna().any()}
        values["ECE"] = 100 * ece(np.clip(g.score.to_numpy(np.float64), 0, 1), g.iou.to_numpy())
        cells.append(Cell("uncertainty", dataset, model, protocol, condition, int(severity), len(g), values))
    return cells


def all_cells(df: pd.DataFrame) -> list[Cell]:
    return one_shot_cells(df) + ap_cells(df) + interactive_cells(df) + uncertainty_cells(df)
