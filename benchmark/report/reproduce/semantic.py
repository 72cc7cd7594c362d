"""Semantic suites (ECOCSeg's GTA5/SYNTHIA -> Cityscapes and Cityscapes -> ACDC): evaluate each model on each
build with the semantic evaluator, and turn its per-image confusion matrices into a suite's numbers.

Why beside ``tabulate``: a semantic number is not a mean of per-row values but a statistic of the confusion
matrix summed over the cell's images (mmseg's definition, the one the leaderboard's semantic track uses),
over all classes or a named subset (SYNTHIA's 16 and 13), and per-class IoU is a table, not one cell."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

import numpy as np

from ...data.sources.semantic import SYNTHIA_13, SYNTHIA_16
from ...eval.confusion import class_iou, subset_miou
from ..semantic import stacked_confusions
from .status import build_model

#: metric -> the classes its mean runs over (None: every class of the dataset)
CLASS_SUBSETS: dict[str, Optional[tuple[str, ...]]] = {"mIoU19": None, "mIoU16": SYNTHIA_16, "mIoU13": SYNTHIA_13}
CLASS_COLUMNS = ("suite", "model", "our_model", "dataset", "condition", "images", "class", "IoU")


def semantic_frames(statuses: Sequence, builds: Sequence, out: Path, device: str, model_kwargs: Mapping[str, dict],
                    progress: Optional[Callable[[str], None]], random_weights: bool) -> tuple[dict, dict]:
    """((our model, build name, "semantic") -> per-image result rows, build name -> class names)."""

    from ...eval.semantic import SEMANTIC_PROTOCOL, evaluate_semantic
    from ..results import read_results, semantic_classes

    frames, classes = {}, {}
    for st in {s.registry: s for s in statuses}.values():
        model = build_model(st, device, model_kwargs)
        for b in {b.name: b for b in builds}.values():
            if progress:
                progress(f"eval {st.registry} {SEMANTIC_PROTOCOL} on {b.name}")
            r = evaluate_semantic(model, out / "datasets" / b.name, out / "results", dataset_name=b.name,
                                  random_weights=random_weights)
            frames[(st.registry, b.name, SEMANTIC_PROTOCOL)] = read_results(
                r.out, allow_random_weights=random_weights, task="semantic").to_pandas()
            classes[b.name] = semantic_classes([r.out])[b.name]
        del model
    return frames, classes


def summed_confusion(df) -> np.ndarray:
    """The C x C confusion matrix of a cell: its images' matrices summed."""
    cms = stacked_confusions(df)
    c = int(round(cms.shape[1] ** 0.5))
    return cms.sum(0).reshape(c, c)


def semantic_metric(df, classes: Sequence[str], metric: str) -> tuple[Optional[float], str]:
    """(percent, why-not) of one semantic metric over the rows ``df``."""
    if metric not in CLASS_SUBSETS:
        return None, f"robustseg does not compute {metric} for semantic results"
    subset = CLASS_SUBSETS[metric] or tuple(classes)
    v = subset_miou(summed_confusion(df), list(classes), subset)
    return (None, "no pixel of these classes in ground truth or prediction") if np.isnan(v) else (100.0 * v, "")


def class_rows(suite, tab, select) -> list[dict]:
    """Per-class IoU (percent; '' where a class is absent from ground truth and prediction) of every model,
    dataset and condition the suite names; ``select(df, condition)`` picks a condition's rows."""
    import pandas as pd

    rows = []
    for m in suite.models:
        st = tab.inputs[("model", m.name)]
        for ds in suite.datasets:
            if st.state != "present" or tab.inputs[("dataset", ds.dataset)].state != "present":
                continue
            names = tab.builds[ds.dataset]
            df = pd.concat([tab.frames[(st.registry, b, "semantic")] for b in names], ignore_index=True)
            for condition in suite.conditions:
                sub = select(df, condition)
                if sub.empty:
                    continue
                ious = class_iou(summed_confusion(sub))
                for name, v in zip(tab.classes[names[0]], ious):
                    rows.append({"suite": suite.name, "model": m.name, "our_model": tab.our_model(m.name),
                                 "dataset": ds.dataset, "condition": condition, "images": len(sub), "class": name,
                                 "IoU": "" if np.isnan(v) else f"{100 * v:.2f}"})
    return rows


def class_markdown(rows: Sequence[dict]) -> list[str]:
    """One table: a row per (model, dataset, condition), a column per class."""
    if not rows:
        return ["## Per-class IoU", "", "No model was run.", ""]
    names = list(dict.fromkeys(r["class"] for r in rows))
    keys = list(dict.fromkeys((r["model"], r["our_model"], r["dataset"], r["condition"]) for r in rows))
    by = {(r["model"], r["our_model"], r["dataset"], r["condition"], r["class"]): r["IoU"] for r in rows}
    lines = ["## Per-class IoU", "", "Percent, from the confusion matrix summed over the images; — where a class "
             "is in neither ground truth nor prediction.", "",
             "| model (ours) | dataset | condition | " + " | ".join(names) + " |",
             "|---|---|---|" + "---:|" * len(names)]
    for k in keys:
        lines.append(f"| {k[0]} ({k[1]}) | {k[2]} | {k[3]} | " + " | ".join(by.get((*k, n)) or "—" for n in names)
                     + " |")
    return lines + [""]
