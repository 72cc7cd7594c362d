"""Loading one condition vs the card's config: time and datasets-cache size on a 96-condition build.

    python benchmarks/bench_load.py [--images 4] [--size 64x48]

Builds the synthetic source under the ``imagecorruptions`` profile (clear + 19 x 5 = 96 splits), then,
each in a fresh process with an empty HF_DATASETS_CACHE: ``load_dataset(path, "default", split="fog_3")``
and ``benchmark.data.load.load_condition(path, "fog_3")``. Prints a markdown table."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

# the time of the load call alone (imports excluded), printed by the child
CARD = ("import time; from datasets import load_dataset; t = time.perf_counter(); "
        "ds = load_dataset({p!r}, 'default', split='fog_3'); print(len(ds), time.perf_counter() - t)")
ONE = ("import time; from benchmark.data.load import load_condition; import datasets; t = time.perf_counter(); "
       "ds = load_condition({p!r}, 'fog_3'); print(len(ds), time.perf_counter() - t)")


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _run(code: str, repo: Path) -> tuple[float, int, str]:
    """(seconds of the load call, cache bytes, rows) in a fresh process with an empty cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = os.environ | {"HF_DATASETS_CACHE": cache, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
                            "PYTHONPATH": str(repo)}
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        rows, seconds = r.stdout.split()[-2:]
        return float(seconds), _du(Path(cache)), rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--size", default="64x48")
    a = ap.parse_args()
    repo = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(repo))
    from benchmark.data.build import BuildConfig, build

    w, _, h = a.size.partition("x")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ds"
        r = build(BuildConfig(source_options={"num_images": a.images, "width": int(w), "height": int(h)},
                              profile="imagecorruptions", images_per_shard=a.images), out)
        splits = sum(len(s) for s in r.manifest["splits"].values())
        print(f"build: {splits} splits, {len(r.manifest['files'])} files, {_du(out / 'data') / 1e6:.2f} MB of parquet\n")
        print("| load | rows | seconds (load call) | cache MB |\n|---|---:|---:|---:|")
        for name, code in (("load_dataset(path, 'default', split='fog_3')", CARD),
                           ("load_condition(path, 'fog_3')", ONE)):
            s, size, rows = _run(code.format(p=str(out)), repo)
            print(f"| `{name}` | {rows} | {s:.2f} | {size / 1e6:.2f} |")


if __name__ == "__main__":
    main()
