"""Peak memory of `robustseg build --source coco --num-workers 2` on a train2017-size COCO json.

Run by hand: ``python benchmarks/bench_coco_memory.py [--annotations 860000] [--images 118000]
[--code /path/to/repo]``. It writes a COCO-format json of about 450 MB into a temp folder (one tiny
image file that every image record names, polygons from a fixed pool, so generation is fast and the
json has train2017's record counts and size), builds 16 images of it with 2 workers, samples the
memory of the build's whole process tree every 20 ms from /proc, prints the peaks and deletes
everything. ``--code`` runs another checkout (e.g. the code before the shared index) for comparison.

Reported: peak of the summed RSS (counts pages shared between processes once per process, so it
overstates) and peak of the summed PSS (shared pages divided among the processes that map them: the
machine's real footprint)."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

W, H = 64, 48


def write_json(path: Path, n_images: int, n_anns: int, seed: int = 0) -> None:
    """COCO instances json streamed to disk: polygons of 30 vertices with 2 decimals, as in COCO."""
    rng = np.random.default_rng(seed)
    pool = []
    for _ in range(997):
        angles = np.sort(rng.uniform(0, 2 * np.pi, 30))
        r = rng.uniform(5, 20, 30)
        xy = np.stack([W / 2 + r * np.cos(angles), H / 2 + r * np.sin(angles)], 1).clip(0, [W - 1, H - 1])
        pool.append(",".join(f"{v:.2f}" for v in xy.ravel()))
    with open(path, "w") as f:
        f.write('{"info": {"description": "synthetic train2017-size"}, "licenses": [], "images": [')
        f.write(",".join(f'{{"id": {i + 1}, "file_name": "img.jpg", "height": {H}, "width": {W}, "license": 1, '
                         f'"coco_url": "http://images.cocodataset.org/train2017/{i + 1:012d}.jpg", '
                         f'"date_captured": "2013-11-14 11:18:45", "flickr_url": "http://farm4.staticflickr.com/x.jpg"}}'
                         for i in range(n_images)))
        f.write('], "annotations": [')
        for i in range(n_anns):
            f.write("," if i else "")
            f.write(f'{{"segmentation": [[{pool[i % len(pool)]}]], "area": 702.1057, "iscrowd": 0, '
                    f'"image_id": {i % n_images + 1}, "bbox": [12.49, 5.23, 40.32, 38.12], "category_id": {i % 80 + 1}, '
                    f'"id": {i + 1}}}')
        f.write('], "categories": [')
        f.write(",".join(f'{{"supercategory": "thing", "id": {c + 1}, "name": "class{c + 1}"}}' for c in range(80)))
        f.write("]}")


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                todo += [int(c) for c in Path(f"/proc/{p}/task/{tid}/children").read_text().split()]
        except OSError:
            pass
    return out


def _kb(pid: int, field: str, fname: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/{fname}").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(cmd: list[str], env: dict, cwd: Path) -> tuple[float, float, float, int]:
    """(peak summed RSS MB, peak summed PSS MB, seconds, most processes seen) of ``cmd``'s tree. Run
    in ``cwd`` away from any checkout: ``python -m`` puts the working folder before PYTHONPATH."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak_rss = peak_pss = 0
    most = 0
    while proc.poll() is None:
        pids = _tree(proc.pid)
        most = max(most, len(pids))
        peak_rss = max(peak_rss, sum(_kb(p, "VmRSS:", "status") for p in pids))
        peak_pss = max(peak_pss, sum(_kb(p, "Pss:", "smaps_rollup") for p in pids))
        time.sleep(0.02)
    err = proc.stderr.read()
    if proc.returncode:
        raise SystemExit(f"build failed ({proc.returncode}): {err[-2000:]}")
    return peak_rss / 1024, peak_pss / 1024, time.perf_counter() - t, most


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=118_000)
    ap.add_argument("--annotations", type=int, default=860_000)
    ap.add_argument("--code", default=str(Path(__file__).resolve().parents[1]), help="repo checkout to run")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="robustseg-coco-mem-"))
    try:
        root = tmp / "coco"
        (root / "images").mkdir(parents=True)
        cv2.imwrite(str(root / "images" / "img.jpg"), np.full((H, W, 3), 128, np.uint8))
        write_json(root / "ann.json", a.images, a.annotations)
        size_mb = (root / "ann.json").stat().st_size / 2**20
        env = os.environ | {"PYTHONPATH": a.code, "ROBUSTSEG_CACHE": str(tmp / "cache"), "OMP_NUM_THREADS": "1"}
        cmd = [sys.executable, "-m", "benchmark.cli", "build", "--source", "coco", "--root", str(root),
               "--source-option", "annotations=ann.json", "--source-option", "images=images", "--profile", "clear",
               "--limit", "16", "--images-per-shard", "4", "--num-workers", str(a.workers)]
        rows = []
        for run in ("first build (parses the json)", "second build (index cached)"):
            rss, pss, sec, procs = measure(cmd + ["--out", str(tmp / f"out{len(rows)}")], env, tmp)
            rows.append((run, rss, pss, sec, procs))
        print(json.dumps({"json_mb": round(size_mb), "images": a.images, "annotations": a.annotations,
                          "code": a.code, "workers": a.workers}))
        print("| run | peak RSS, sum (MB) | peak PSS, sum (MB) | PSS / json size | seconds | processes |")
        print("|---|---:|---:|---:|---:|---:|")
        for run, rss, pss, sec, procs in rows:
            print(f"| {run} | {rss:.0f} | {pss:.0f} | {pss / size_mb:.2f}x | {sec:.0f} | {procs} |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
