"""Semantic results -> leaderboard cells and paired tests. Every number of a cell comes from the one
confusion matrix summed over the cell's images (ignore pixels were never counted); intervals resample
images (summing the resampled images' matrices), so the interval is of the same statistic as the cell,
not of a mean of per-image scores. Paired tests compare two models image by image on per-image mIoU."""
from __future__ import annotations

import csv
import io
import itertools
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..eval.confusion import class_iou, semantic_scores
from . import stats
from .significance import TestRow
from ..errors import BadInputError

TRACK = "semantic"
GROUP = ["dataset", "model", "condition", "severity"]
LABELS = {"miou": "mIoU", "macc": "mAcc", "aacc": "aAcc"}


@dataclass(frozen=True)
class SemanticCell:
    dataset: str
    model: str
    condition: str
    severity: int
    images: int
    values: dict  # label -> percent
    ci: dict  # label -> (low, high) percent, bootstrap over images
    class_iou: tuple  # per-class IoU (fraction, NaN where the class is absent from ground truth and prediction)


def stacked_confusions(g: pd.DataFrame) -> np.ndarray:
    """(images, C*C) int64 matrix of a group's per-image confusion matrices; one class count per group."""
    sizes = set(g.num_classes)
    if len(sizes) != 1:
        raise BadInputError(f"results mix class counts {sorted(sizes)} within one dataset cell")
    c = int(sizes.pop())
    cms = np.stack([np.asarray(x, dtype=np.int64) for x in g.confusion])
    if cms.shape[1] != c * c:
        raise BadInputError(f"confusion matrices of {cms.shape[1]} entries, expected {c}x{c}")
    return cms


def bootstrap_scores(cms: np.ndarray, key: str, n_resamples: int = stats.N_RESAMPLES) -> dict[str, tuple]:
    """Percentile intervals of mIoU, mAcc, aAcc over image resamples (each resample: multinomial image
    counts, matrix = counts @ per-image matrices)."""
    n, cc = cms.shape
    c = int(round(cc ** 0.5))
    rng = stats.stat_rng(0, key)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_resamples)
    sums = (counts @ cms).reshape(n_resamples, c, c)
    draws = {k: np.array([semantic_scores(m)[k] for m in sums]) for k in LABELS}
    q = [(1 - stats.CONFIDENCE) / 2, (1 + stats.CONFIDENCE) / 2]
    return {LABELS[k]: tuple(100 * np.nanquantile(v, q)) for k, v in draws.items()}


def semantic_cells(df: pd.DataFrame) -> list[SemanticCell]:
    cells = []
    for (dataset, model, condition, severity), g in df.groupby(GROUP, sort=True):
        cms = stacked_confusions(g)
        c = int(round(cms.shape[1] ** 0.5))
        total = cms.sum(0).reshape(c, c)
        values = {LABELS[k]: 100 * v for k, v in semantic_scores(total).items()}
        ci = bootstrap_scores(cms, f"{dataset}/{model}/{condition}/{severity}")
        cells.append(SemanticCell(dataset, model, condition, int(severity), len(g), values, ci,
                                  tuple(class_iou(total))))
    return cells


def semantic_tests(df: pd.DataFrame) -> list[TestRow]:
    """Wilcoxon signed-rank on per-image mIoU for every model pair in every cell they share, Holm over
    each model pair's family."""
    rows = []
    for (dataset, condition, severity), g in df.groupby(["dataset", "condition", "severity"], sort=True):
        by_model = dict(tuple(g.groupby("model", sort=True)))
        for a, b in itertools.combinations(sorted(by_model), 2):
            ga, gb = by_model[a], by_model[b]
            va, vb, _ = stats.match_pairs(list(ga.image_id), ga.miou.to_numpy(), list(gb.image_id),
                                          gb.miou.to_numpy(), f"{dataset}/{condition}/{severity}")
            keep = ~(np.isnan(va) | np.isnan(vb))
            if keep.any():
                rows.append(TestRow(TRACK, dataset, "semantic", condition, int(severity), "miou", a, b,
                                    stats.paired_wilcoxon(va[keep], vb[keep])))
    families: dict[tuple, list[int]] = {}
    for i, r in enumerate(rows):
        families.setdefault((r.model_a, r.model_b), []).append(i)
    out = list(rows)
    for idx in families.values():
        for i, t in zip(idx, stats.holm_family([rows[i].test for i in idx])):
            out[i] = replace(rows[i], test=t)
    return out


def write_class_csv(cells: list[SemanticCell], classes: dict[str, list[str]]) -> str:
    """Per-class IoU (percent) of every cell; ``classes``: dataset -> class names (from the results' card)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["dataset", "model", "condition", "severity", "class", "IoU"])
    for c in cells:
        names = classes.get(c.dataset) or [str(i) for i in range(len(c.class_iou))]
        for name, v in zip(names, c.class_iou):
            w.writerow([c.dataset, c.model, c.condition, c.severity, name, "" if np.isnan(v) else f"{100 * v:.2f}"])
    return buf.getvalue()
