"""Build throughput and memory: robustseg's builder vs a naive datasets pipeline doing the same work.

Run by hand: ``python benchmarks/bench_build.py [--images 64] [--size 640x480]``. Each measurement runs
in its own process (one core: OpenCV single-threaded, one worker) so peak RSS is per build. The naive
pipeline generates the same rows (same samples, corruptions and JPEG encoding) and writes them with
``datasets.Dataset.from_generator(...).to_parquet()``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r'''
import json, sys, time, resource, cv2
cv2.setNumThreads(1)
mode, out, n, w, h, profile = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
from benchmark.data.build import BuildConfig, build, sample_rows
import corruptions
cfg = BuildConfig(source_options={"num_images": n, "width": w, "height": h}, profile=profile, images_per_shard=64)
t = time.perf_counter()
if mode == "robustseg":
    build(cfg, out)
else:
    import datasets
    from benchmark.schema import FEATURES
    from benchmark.data.sources import create_source
    src = create_source("synthetic", **cfg.source_options)
    prof = corruptions.parse_profile(profile)
    def gen():
        for i in range(len(src)):
            for _, row in sample_rows(src[i], prof, cfg):
                yield row
    ds = datasets.Dataset.from_generator(gen, features=FEATURES, cache_dir=out + "/cache")
    ds.to_parquet(out + "/all.parquet")
dt = time.perf_counter() - t
size = sum(p.stat().st_size for p in __import__("pathlib").Path(out).rglob("*.parquet"))
print(json.dumps({"seconds": dt, "bytes": size, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def run(mode: str, n: int, w: int, h: int, profile: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([sys.executable, "-c", CHILD, mode, tmp + "/out", str(n), str(w), str(h), profile],
                           capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1],
                           env={"OMP_NUM_THREADS": "1", "HF_DATASETS_OFFLINE": "1", "PATH": "/usr/bin:/bin",
                                "HOME": tmp})
        return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--rss-images", default="200,1600", help="clear-only builds at 320x240 to show flat peak RSS")
    a = ap.parse_args()
    w, h = map(int, a.size.split("x"))
    print("| build | images | rows | robustseg s | img/s/core | MB/s | peak RSS MB | naive s | naive peak RSS MB | speed ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for profile, label in (("clear", "clear only"), ("robustsam", "robustsam profile")):
        n = a.images if profile == "clear" else max(4, a.images // 4)
        ours, naive = run("robustseg", n, w, h, profile), run("naive", n, w, h, profile)
        import corruptions

        rows = n * (1 + len(corruptions.parse_profile(profile)))
        print(f"| {label} {w}x{h} | {n} | {rows} | {ours['seconds']:.2f} | {n / ours['seconds']:.1f} | "
              f"{ours['bytes'] / 1e6 / ours['seconds']:.1f} | {ours['maxrss_mb']:.0f} | {naive['seconds']:.2f} | "
              f"{naive['maxrss_mb']:.0f} | {naive['seconds'] / ours['seconds']:.2f}x |")
    print()
    print("| clear-only build, 320x240 | images | peak RSS MB |")
    print("|---|---:|---:|")
    for n in map(int, a.rss_images.split(",")):
        r = run("robustseg", n, 320, 240, "clear")
        print(f"| robustseg | {n} | {r['maxrss_mb']:.0f} |")


if __name__ == "__main__":
    main()
