"""Per-instance metric cost at 1024x768: ``instance_metrics`` (IoU, Dice, pixel accuracy, boundary IoU
in one call) vs the reference way of the same four numbers in the same run (the separate functions,
boundary bands as the official boundary_iou_api computes them: full-image pad + d iterations of a
3x3 erosion). Also the pixel-level uncertainty bundle and one clicker step, for scale.

Run by hand: ``python benchmarks/bench_metrics.py [--instances 60] [--repeats 3]``. One thread
(OpenCV single-threaded). Prints a markdown table for benchmarks/RESULTS.md."""
from __future__ import annotations

import argparse
import platform
import time

import cv2
import numpy as np

from benchmark.eval import metrics
from benchmark.eval.boundary import dilation_pixels
from benchmark.eval.clicker import next_click
from benchmark.eval.metrics import instance_metrics
from benchmark.eval.uncertainty import uncertainty_metrics

H, W = 768, 1024


def official_band(mask: np.ndarray, d: int) -> np.ndarray:
    m = mask.astype(np.uint8)
    padded = cv2.copyMakeBorder(m, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    eroded = cv2.erode(padded, np.ones((3, 3), np.uint8), iterations=d)[1:-1, 1:-1]
    return (m - eroded).astype(bool)


def reference_metrics(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    d = dilation_pixels(gt.shape)
    bp, bg = official_band(pred, d), official_band(gt, d)
    return {"iou": metrics.iou(pred, gt), "dice": metrics.dice(pred, gt),
            "pixel_accuracy": metrics.pixel_accuracy(pred, gt),
            "boundary_iou": np.count_nonzero(bp & bg) / max(1, np.count_nonzero(bp | bg))}


def instances(n: int, rng: np.random.Generator, speckle: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Discs from 10 to 350 px radius; predictions shifted and rescaled, plus a fraction ``speckle`` of
    pixels flipped anywhere in the image (so the crop to the objects cannot help)."""
    yy, xx = np.mgrid[:H, :W]
    out = []
    for r in np.geomspace(10, 350, n):
        cy, cx = rng.uniform(0, H), rng.uniform(0, W)
        gt = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        dy, dx = rng.normal(0, 0.15 * r, 2)
        pred = (yy - cy - dy) ** 2 + (xx - cx - dx) ** 2 <= (r * rng.uniform(0.8, 1.2)) ** 2
        if speckle:
            pred ^= rng.random((H, W)) < speckle
        out.append((pred, gt))
    return out


def per_instance_ms(fns, pairs, repeats: int) -> list[float]:
    """Best-of-``repeats`` ms per instance for each function, interleaved so that load from other
    processes hits all of them alike."""
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            for p, g in pairs:
                fn(p, g)
            best[i] = min(best[i], (time.perf_counter() - t) / len(pairs))
    return [1e3 * b for b in best]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    rows = []
    for label, speckle in (("compact predictions", 0.0), ("speckled predictions (0.05% of pixels flipped)", 5e-4)):
        pairs = instances(args.instances, rng, speckle)
        for p, g in pairs:  # the fast path must give the reference's numbers, or the timing means nothing
            ours, ref = instance_metrics(p, g), reference_metrics(p, g)
            assert all(abs(ours[k] - ref[k]) < 1e-12 for k in ref), (ours, ref)
        slow, fast = per_instance_ms([reference_metrics, instance_metrics], pairs, args.repeats)
        rows.append(f"| {label} | {slow:.2f} | {fast:.2f} | {fast / slow:.2f} |")
    unc = rng.random((H, W)).astype(np.float32)
    some = pairs[:: max(1, len(pairs) // 6)]
    (unc_ms,) = per_instance_ms([lambda p, g: uncertainty_metrics(p, g, unc)], some, 1)
    (click_ms,) = per_instance_ms([lambda p, g: next_click(g, p)], some, args.repeats)
    print(f"Metric cost per instance at {W}x{H}: {args.instances} instances per set (discs r = 10..350 px), "
          f"best of {args.repeats} interleaved runs, 1 OpenCV thread, {platform.machine()}.\n")
    print("| instances | reference ms | `instance_metrics` ms | ratio |")
    print("|---|---|---|---|")
    print("\n".join(rows))
    print(f"\nFor scale: `uncertainty_metrics` (AUROC, AURC, E-AURC, PAvPU) {unc_ms:.0f} ms, "
          f"`clicker.next_click` {click_ms:.1f} ms per instance.")


if __name__ == "__main__":
    main()
