"""The result row: one (model, dataset, condition, severity, image, object, protocol, round) with every
metric. Defined once: the evaluator writes it, ``report/results`` reads and verifies it."""
from __future__ import annotations

import pyarrow as pa

RESULT_SCHEMA = pa.schema([
    ("model", pa.string()), ("checkpoint_sha256", pa.string()), ("dataset", pa.string()), ("source", pa.string()),
    ("config", pa.string()), ("split", pa.string()), ("condition", pa.string()), ("severity", pa.int32()),
    ("image_id", pa.string()), ("object_id", pa.int64()), ("category", pa.string()), ("area", pa.int64()),
    ("height", pa.int32()), ("width", pa.int32()), ("protocol", pa.string()), ("round", pa.int32()),
    ("candidate", pa.int32()), ("score", pa.float32()),
    ("iou", pa.float64()), ("dice", pa.float64()), ("pixel_accuracy", pa.float64()), ("boundary_iou", pa.float64()),
    # pixel-level uncertainty metrics: null unless the model returns an uncertainty map
    ("unc_auroc", pa.float64()), ("aurc", pa.float64()), ("e_aurc", pa.float64()), ("pavpu", pa.float64()),
    ("unc_mean", pa.float64()),
    # COCO RLE counts of ground truth and prediction (one-shot protocols), so AP can be computed later
    ("gt_rle", pa.string()), ("pred_rle", pa.string()),
])
UNCERTAINTY_COLUMNS = ("unc_auroc", "aurc", "e_aurc", "pavpu", "unc_mean")

#: one row per (model, dataset, condition, severity, image) of a semantic evaluation: the image's confusion
#: matrix (C x C, row-major, rows ground truth) is what every dataset-level number is summed from
SEMANTIC_RESULT_SCHEMA = pa.schema([
    ("model", pa.string()), ("checkpoint_sha256", pa.string()), ("dataset", pa.string()), ("source", pa.string()),
    ("config", pa.string()), ("split", pa.string()), ("condition", pa.string()), ("severity", pa.int32()),
    ("image_id", pa.string()), ("height", pa.int32()), ("width", pa.int32()), ("num_classes", pa.int32()),
    ("confusion", pa.list_(pa.int64())), ("miou", pa.float64()), ("macc", pa.float64()), ("aacc", pa.float64()),
    ("unc_mean", pa.float64()),
])
