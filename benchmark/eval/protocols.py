"""Prompt protocols: ground-truth instance -> prompts. The rules stated here are the benchmark's rules.

Coordinates are integer pixel indices, x = column and y = row, as SAM expects them: SAM's prompt
encoder adds 0.5 itself to move a coordinate to its pixel centre. A box is [x_min, y_min, x_max,
y_max] with the extreme pixels of the mask included (what HQ-SAM's ``masks_to_boxes`` gives).
Ties between equally good pixels go to the first in row-major order. Every random draw (box jitter)
comes from a generator derived from (seed, image_id, object_id, protocol)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import cv2
import numpy as np

from baselines.contract import Prompts

BOX_JITTER = 0.1  # each side moves by up to this fraction of the box side
BOUNDARY_BAND = 10  # SUM Appendix B.3: boundary points lie within 10 pixels of the mask's edge


def prompt_rng(seed: int, image_id: str, object_id: int, protocol: str) -> np.random.Generator:
    """The only source of randomness for a prompt: stable across runs, machines and orderings."""
    digest = hashlib.blake2b(f"{image_id}\x00{object_id}\x00{protocol}".encode(), digest_size=8).digest()
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF, int.from_bytes(digest, "little")])
    return np.random.default_rng(ss)


def _nonempty(mask: np.ndarray, what: str = "ground-truth mask") -> np.ndarray:
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"{what} must be (H, W), got shape {mask.shape}")
    if not mask.any():
        raise ValueError(f"{what} is empty: no prompt can be placed on it")
    return mask


def _extent(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(y_min, y_max, x_min, x_max) of a non-empty mask's pixels, inclusive: from its occupied rows and
    columns, which is cheaper than listing every pixel."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])


def tight_box(mask: np.ndarray) -> np.ndarray:
    """[x_min, y_min, x_max, y_max] of the mask's extreme pixels (inclusive), float32."""
    y0, y1, x0, x1 = _extent(_nonempty(mask))
    return np.array([x0, y0, x1, y1], dtype=np.float32)


def jittered_box(mask: np.ndarray, rng: np.random.Generator, jitter: float = BOX_JITTER) -> np.ndarray:
    """The tight box with each side moved independently by U(-jitter, jitter) x the box side along its
    axis (width + 1 for x sides, height + 1 for y sides, in pixels), then clipped to the image. Sides
    cannot cross: none moves past the tight box's centre (which only binds for 1-pixel-wide sides,
    where 10% of the side exceeds half of x_max - x_min = 0)."""
    box = tight_box(mask).astype(np.float64)
    h, w = mask.shape
    side = np.array([box[2] - box[0] + 1, box[3] - box[1] + 1] * 2)
    moved = box + rng.uniform(-jitter, jitter, size=4) * side
    centre = (box[:2] + box[2:]) / 2
    moved = np.concatenate([np.minimum(moved[:2], centre), np.maximum(moved[2:], centre)])
    return np.clip(moved, 0, [w - 1, h - 1, w - 1, h - 1]).astype(np.float32)


def exact_distance(padded: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance transform whose ties are exact. OpenCV's float32 result can differ in
    the last bit between pixels at the same true distance (by position, crop and build), which would
    let a tie go either way; a squared pixel distance is an integer, so rounding it restores ties."""
    d = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE).astype(np.float64)
    return np.sqrt(np.rint(d * d))


def _inner_distance(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance of each mask pixel to the nearest non-mask pixel; the image border counts
    as boundary (the mask is padded with background, as RITM's clicker does)."""
    return exact_distance(np.pad(mask.astype(np.uint8), 1))[1:-1, 1:-1]


def _argmax_xy(score: np.ndarray) -> np.ndarray:
    y, x = np.unravel_index(int(np.argmax(score)), score.shape)  # first maximum in row-major order
    return np.array([x, y], dtype=np.float32)


def _crop(mask: np.ndarray) -> tuple[np.ndarray, int, int]:
    """The mask cut to its bounding box, with the box's top-left (y0, x0). Distances computed on the
    crop are exact: beyond the box lies background or the image border, both boundary."""
    y0, y1, x0, x1 = _extent(mask)
    return mask[y0:y1 + 1, x0:x1 + 1], y0, x0


def farthest_point(mask: np.ndarray) -> np.ndarray:
    """(x, y) of the mask pixel farthest from the mask boundary (image border counts as boundary)."""
    sub, y0, x0 = _crop(_nonempty(mask))
    return _argmax_xy(_inner_distance(sub)) + np.array([x0, y0], dtype=np.float32)


def spread_points(mask: np.ndarray, n: int) -> np.ndarray:
    """n points inside the mask. The first is ``farthest_point``; each next one maximises the distance
    to the nearest of (mask boundary, points already placed), and among equals the distance to the
    placed points alone, so points sit deep inside the object and spread along it. A mask with fewer
    pixels than n repeats its last point. Returns (n, 2) float32."""
    sub, y0, x0 = _crop(_nonempty(mask))
    inner = _inner_distance(sub).astype(np.float64)
    gy, gx = np.ogrid[:sub.shape[0], :sub.shape[1]]
    near = np.full(sub.shape, np.inf)  # distance to the nearest point placed so far
    pts = []
    for k in range(n):
        score = np.minimum(inner, near)
        best = score.max()
        if best <= 0:  # every mask pixel already holds a point
            pts.append(pts[-1])
            continue
        p = _argmax_xy(np.where(score == best, near, -1.0))
        pts.append(p)
        if k + 1 < n:  # the last point's distances would not be used
            near = np.minimum(near, np.hypot(gx - p[0], gy - p[1]))
    return np.stack(pts) + np.array([x0, y0], dtype=np.float32)


def boundary_point(mask: np.ndarray, band: int = BOUNDARY_BAND) -> np.ndarray:
    """SUM's boundary-sensitive point (Appendix B.3 and Table 5: "boundary points within a specified
    proximity to the mask's edge ... 10 pixels"; "the 'median' point from the set of boundary points,
    guaranteeing that the sample remains within the mask yet distanced from the geometric center").
    Interpretation, as SUM states no order: the set is every mask pixel at Euclidean distance <= ``band``
    from the nearest non-mask pixel (erosion by a disk; the image border counts as edge), listed in
    row-major order (the order ``torch.nonzero`` gives, which SUM's sampling code uses for point sets),
    and the median is its element (n - 1) // 2. Returns (x, y) float32."""
    sub, y0, x0 = _crop(_nonempty(mask))
    ys, xs = np.nonzero(sub & (_inner_distance(sub) <= band))
    i = (len(ys) - 1) // 2
    return np.array([xs[i] + x0, ys[i] + y0], dtype=np.float32)


def centre_point(mask: np.ndarray) -> np.ndarray:
    """The mask centroid rounded to the nearest pixel (half to even); if that pixel lies outside the
    mask (a ring, a crescent), the mask pixel nearest to the centroid instead."""
    mask = _nonempty(mask)
    ys, xs = np.nonzero(mask)
    cx, cy = xs.mean(), ys.mean()
    x, y = int(np.round(cx)), int(np.round(cy))
    if mask[y, x]:
        return np.array([x, y], dtype=np.float32)
    i = int(np.argmin((xs - cx) ** 2 + (ys - cy) ** 2))  # np.nonzero is row-major: ties go first
    return np.array([xs[i], ys[i]], dtype=np.float32)


ProtocolFn = Callable[..., Prompts]


def box_prompts(masks: Sequence[np.ndarray], **_context) -> Prompts:
    return Prompts(boxes=np.stack([tight_box(m) for m in masks]))


def jittered_box_prompts(masks: Sequence[np.ndarray], *, seed: int = 0, image_id: str = "",
                         object_ids: Optional[Sequence[int]] = None, **_context) -> Prompts:
    ids = range(len(masks)) if object_ids is None else object_ids
    return Prompts(boxes=np.stack([jittered_box(m, prompt_rng(seed, image_id, int(o), "box_jitter"))
                                   for m, o in zip(masks, ids)]))


def _positive(points: np.ndarray) -> Prompts:
    return Prompts(points=points, point_labels=np.ones(points.shape[:2], dtype=np.int32))


def point_prompts(masks: Sequence[np.ndarray], n: int = 1, **_context) -> Prompts:
    """n positive points per mask (``spread_points``); n = 1 is the farthest-from-boundary point."""
    return _positive(np.stack([spread_points(m, n) for m in masks]))


def centre_prompts(masks: Sequence[np.ndarray], **_context) -> Prompts:
    return _positive(np.stack([centre_point(m) for m in masks])[:, None, :])


# name -> fn(masks, *, seed, image_id, object_ids) -> Prompts; one prompt per mask, same order.
PROTOCOLS: dict[str, ProtocolFn] = {
    "box": box_prompts,
    "box_jitter": jittered_box_prompts,
    "point": point_prompts,
    "point3": lambda masks, **ctx: point_prompts(masks, 3),
    "point5": lambda masks, **ctx: point_prompts(masks, 5),
    "centre": centre_prompts,
}


@dataclass(frozen=True)
class ProtocolSpec:
    """How the evaluator runs a protocol: one-shot prompts (``clicks == 0``) or interactive rounds.

    ``multimask``: ask for K = 3 candidates and keep the highest-scoring one (SAM's practice for an
    ambiguous single point), or for the single-mask output. ``oracle``: keep the candidate with the
    best IoU instead (SUM's "best of 3"). ``stop_iou``: end an interactive instance once reached.
    ``first``: the round-1 prompt of an interactive protocol (``point``, ``box``, ``boundary``; clicker)."""

    name: str
    multimask: bool
    clicks: int = 0
    oracle: bool = False
    stop_iou: Optional[float] = None
    description: str = ""
    first: str = "point"


EVAL_PROTOCOLS: dict[str, ProtocolSpec] = {s.name: s for s in (
    ProtocolSpec("box", False, description="tight ground-truth box, single output"),
    ProtocolSpec("box_jitter", False, description="tight box, each side moved by up to 10% (seeded), single output"),
    ProtocolSpec("point", True, description="1 point farthest from the boundary, best-scoring of 3 outputs"),
    ProtocolSpec("point3", False, description="3 spread positive points, single output"),
    ProtocolSpec("point5", False, description="5 spread positive points, single output"),
    ProtocolSpec("centre", True, description="1 point at the mask centre, best-scoring of 3 outputs"),
    ProtocolSpec("interactive", False, clicks=20, stop_iou=0.90,
                 description="standard clicker up to 20 clicks, logits fed back; NoC@85/90"),
    ProtocolSpec("sum_single", False, clicks=6, description="SUM: 6 clicks, single output; mIoU/mBIoU per click"),
    ProtocolSpec("sum_oracle", True, clicks=6, oracle=True,
                 description="SUM: 6 clicks, oracle best of 3 outputs; mIoU/mBIoU per click"),
    ProtocolSpec("sum_oracle9", True, clicks=9, oracle=True,
                 description="SUM Table 19: 9 clicks, oracle best of 3 outputs; mIoU/mBIoU per click"),
    ProtocolSpec("sum_box_oracle", True, clicks=6, oracle=True, first="box",
                 description="SUM box@6: tight box, then 5 clicks with the box kept; oracle best of 3 outputs"),
    ProtocolSpec("sum_box_single", False, clicks=6, first="box",
                 description="SUM box@6/single: tight box, then 5 clicks with the box kept; single output"),
    ProtocolSpec("sum_boundary", True, clicks=1, oracle=True, first="boundary",
                 description="SUM Table 5: 1 boundary point (median of the 10-px band, row-major), oracle best of 3"),
)}


def describe_protocols() -> list[str]:
    """One line per protocol (name and description), as ``robustseg protocols`` lists them."""
    width = max(map(len, EVAL_PROTOCOLS))
    return [f"{spec.name:{width}s} {spec.description}" for spec in EVAL_PROTOCOLS.values()]
