"""How long the leaderboard's COCO AP cells take to gather their masks: ``aggregate.frame_ap`` (the four
columns it needs, read as lists) against the previous reading (``itertuples`` over every column), on the
same result frame in the same run, equal results asserted. Run by hand on a results folder, e.g. the main
job's:

    robustseg run --out /tmp/run && python benchmarks/bench_frame_ap.py /tmp/run/results
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmark.eval.ap import ImageInstances, Instance, coco_ap  # noqa: E402
from benchmark.report.aggregate import CELL_KEYS, frame_ap  # noqa: E402
from benchmark.report.results import results_frame  # noqa: E402


def itertuples_frame_ap(g) -> dict[str, float]:
    """The reference: the previous ``frame_ap``, every row read through ``itertuples``."""
    images = []
    for (split, image_id), gi in g.groupby(["split", "image_id"], sort=True):
        h, w = int(gi.height.iloc[0]), int(gi.width.iloc[0])
        images.append(ImageInstances(
            f"{split}/{image_id}", h, w,
            gts=[Instance({"size": [h, w], "counts": r.gt_rle}, c, area=float(r.area))
                 for r, c in zip(gi.itertuples(), gi.category)],
            preds=[Instance({"size": [h, w], "counts": r.pred_rle}, c, score=float(r.score))
                   for r, c in zip(gi.itertuples(), gi.category)]))
    return coco_ap(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="a results folder")
    parser.add_argument("--repeats", type=int, default=3)
    a = parser.parse_args()
    df = results_frame([a.results])
    df = df[df.gt_rle.notna() & df.pred_rle.notna()]
    cells = [g for _, g in df.groupby(CELL_KEYS, sort=True)]
    times = {}
    for name, fn in (("itertuples (reference)", itertuples_frame_ap), ("frame_ap", frame_ap)):
        best = float("inf")
        for _ in range(a.repeats):
            t = time.perf_counter()
            out = [fn(g) for g in cells]
            best = min(best, time.perf_counter() - t)
        times[name] = (best, out)
    ref, new = times["itertuples (reference)"], times["frame_ap"]
    assert ref[1] == new[1], "frame_ap differs from the reference"
    print(f"{len(cells)} cells, {len(df)} rows: reference {ref[0]:.2f} s, frame_ap {new[0]:.2f} s, "
          f"ratio {ref[0] / new[0]:.2f}x (best of {a.repeats}; equal results)")


if __name__ == "__main__":
    main()
