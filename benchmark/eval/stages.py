"""The evaluator's per-image CPU work, as functions of one job each, shared by the sequential and the
pipelined evaluator so both produce the same rows: decoding a dataset row, the result-row context of
its objects, one-shot prompts, and turning predictions or clicker rounds into result rows."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from baselines.contract import ModelOutputError, Prediction, Prompts

from ..data.schema import check_row, decode_image, decode_rle, encode_rle
from ..errors import IntegrityError
from . import metrics
from .protocols import PROTOCOLS, ProtocolSpec
from .uncertainty import uncertainty_metrics


@dataclass
class Decoded:
    """One dataset row ready for the model: its prompted objects, image and ground-truth masks."""

    row: dict
    objects: list
    image: Optional[np.ndarray] = None
    gts: list = field(default_factory=list)


def decode_row(r: dict, where: str) -> Decoded:
    """Check the row against the dataset schema (types and ranges) before anything in it is used, and
    the decoded image against the row's size: a dataset file is untrusted input."""
    at = f"{where} image {r.get('image_id')!r}"
    check_row(r, at)
    objects = [o for o in r["objects"] if not o["iscrowd"] and o["area"] > 0]
    if not objects:
        return Decoded(r, [])
    image = decode_image(r["image"]["bytes"], at)
    if image.shape[:2] != (r["height"], r["width"]):
        raise IntegrityError(f"{at}: image is {image.shape[1]}x{image.shape[0]} but the row says "
                             f"{r['width']}x{r['height']}")
    return Decoded(r, objects, image, [decode_rle(o["mask"], f"{at} object {o['id']}") for o in objects])


def base_rows(d: Decoded, spec: ProtocolSpec, ctx: dict) -> list[dict]:
    """The identifying columns of each object's result rows."""
    r, (h, w) = d.row, d.image.shape[:2]
    ctx = ctx | {"source": r["source"], "condition": r["condition"], "severity": r["severity"],
                 "image_id": r["image_id"], "height": h, "width": w, "protocol": spec.name}
    return [ctx | {"object_id": o["id"], "category": o["category"], "area": o["area"]} for o in d.objects]


def oneshot_prompts(d: Decoded, spec: ProtocolSpec) -> Prompts:
    """Every object's prompt of a one-shot protocol, in object order (one batch per image)."""
    r = d.row
    return PROTOCOLS[spec.name](d.gts, seed=r["seed"], image_id=r["image_id"], object_ids=[o["id"] for o in d.objects])


def instance_row(base: dict, pred_mask: np.ndarray, gt: np.ndarray, score: float, candidate: int,
                 uncertainty: Optional[np.ndarray]) -> dict:
    row = base | metrics.instance_metrics(pred_mask, gt) | {"score": float(score), "candidate": int(candidate)}
    if uncertainty is not None:
        row |= uncertainty_metrics(pred_mask, gt, uncertainty) | {"unc_mean": float(np.mean(uncertainty))}
    return row | {"gt_rle": encode_rle(gt)["counts"], "pred_rle": encode_rle(pred_mask)["counts"]}


def oneshot_rows(base: list[dict], gts: list, chunks: list[tuple[slice, Prediction]]) -> list[dict]:
    """Result rows of a one-shot protocol: per object the highest-scoring of its K candidates.
    ``chunks``: (object slice, validated prediction for those objects) in object order."""
    rows = []
    for idx, pred in chunks:
        for i, (b, gt) in enumerate(zip(base[idx], gts[idx])):
            k = int(np.argmax(pred.scores[i]))
            unc = None if pred.uncertainty is None else pred.uncertainty[i, k]
            rows.append(instance_row(b | {"round": 1}, pred.masks[i, k], gt, pred.scores[i, k], k, unc))
    return rows


def click_rows(base: dict, rounds: list) -> list[dict]:
    """One result row per clicker round of one object."""
    return [base | {"round": rr.round, "candidate": rr.candidate, "score": rr.score, "iou": rr.iou, "dice": rr.dice,
                    "pixel_accuracy": rr.pixel_accuracy, "boundary_iou": rr.boundary_iou} for rr in rounds]


def image_error(e: Exception, where: str, image_id) -> ModelOutputError:
    """A model that broke the contract keeps its message; anything else raised while evaluating an
    image is reported as the model's, with the sample."""
    if isinstance(e, ModelOutputError):
        return e
    return ModelOutputError(f"model raised {type(e).__name__} on {where} image {image_id}: {e}")


def groups(items, size: int):
    """Consecutive groups of ``size`` items (the last one shorter)."""
    group = []
    for x in items:
        group.append(x)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group
