"""The benchmark's shared vocabulary, one definition each: conditions, tracks, metric names and labels,
how a number is printed, and which track a result belongs on.

Why one module: results become numbers in three places (leaderboards, significance tests, paper
reproductions); each reads its labels and its track rule from here, so they cannot drift apart."""
from __future__ import annotations

import math

from corruptions.profiles import CLEAR, ROBUSTSAM

#: RobustSAM's 15 Robust-Seg degradations (its output folder names), as the corruption profile defines them.
SYNTHETIC_CONDITIONS = ROBUSTSAM
#: real adverse conditions the papers print (ACDC, BDD100K, LIS); names shared with synthetic degradations
#: (fog, rain, snow) are why a condition name alone cannot say real or synthetic: see ``is_real_source``.
REAL_CONDITIONS = ("night", "fog", "rain", "snow", "low_light", "dawn_dusk")

#: leaderboard tracks, in the order the docs list them
TRACKS = ("robustseg_box", "robustseg_point", "interactive", "ap", "real_degradations", "uncertainty", "semantic")

#: result column -> label of its mean over instances (percent)
MEAN_METRICS = {"iou": "mIoU", "dice": "mDice", "pixel_accuracy": "mPA", "boundary_iou": "mBIoU"}
#: pixel-level uncertainty columns -> label (mean over instances where defined, percent)
UNCERTAINTY_METRICS = {"unc_auroc": "AUROC", "aurc": "AURC", "e_aurc": "E-AURC", "pavpu": "PAvPU"}
#: pycocotools' AP family, as labelled in tables
AP_LABELS = ("AP", "AP50", "AP75", "APs", "APm", "APl")
#: number-of-clicks thresholds (percent IoU) of the interactive track
NOC_THRESHOLDS = (85, 90)
#: every label a leaderboard may show, in column order ("gap": mIoU clear - this condition, points)
METRIC_ORDER = ("mIoU", "mDice", "mPA", "mBIoU", "gap", *AP_LABELS, *(f"NoC{t}" for t in NOC_THRESHOLDS),
                "AUROC", "AURC", "E-AURC", "PAvPU", "ECE", "mAcc", "aAcc")
#: labels whose values are percentages (the rest: clicks, or already percent-scaled uncertainty numbers);
#: mAcc, aAcc: the semantic track's mean class accuracy and overall pixel accuracy (from one confusion matrix)
PERCENT_METRICS = METRIC_ORDER[:11] + ("mAcc", "aAcc")
#: label -> result column, for a mean over instances (the inverse of the two maps above)
COLUMN_OF = {label: col for col, label in (MEAN_METRICS | UNCERTAINTY_METRICS).items()}


def format_value(v) -> str:
    """Every table's number format: two decimals, empty for a missing value, so regenerated files diff cleanly."""
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.2f}"


def is_real_source(source: str) -> bool:
    """Whether a source's own conditions are real adverse conditions. The source declares it when it is
    registered (``Source.real_conditions``), so a newly registered real-condition source lands on the
    real track without editing a list here. Unknown sources (not registered in this installation) count
    as synthetic."""
    from .data.sources import source_info

    info = source_info(source)
    return bool(info and info.cls.real_conditions)


def track_of(protocol: str, source: str) -> str:
    """The leaderboard a measured result belongs on: real-condition sources on ``real_degradations``,
    click protocols on ``interactive``, box prompts on ``robustseg_box``, the rest on ``robustseg_point``."""
    from .eval.protocols import EVAL_PROTOCOLS

    if is_real_source(source):
        return "real_degradations"
    spec = EVAL_PROTOCOLS.get(protocol)
    if spec is not None and spec.clicks:
        return "interactive"
    return "robustseg_box" if protocol.startswith("box") else "robustseg_point"


__all__ = ["CLEAR", "SYNTHETIC_CONDITIONS", "REAL_CONDITIONS", "TRACKS", "MEAN_METRICS", "UNCERTAINTY_METRICS",
           "AP_LABELS", "NOC_THRESHOLDS", "METRIC_ORDER", "PERCENT_METRICS", "COLUMN_OF", "format_value",
           "is_real_source", "track_of"]
