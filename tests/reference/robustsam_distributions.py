"""Measure the distributions of RobustSAM's 15 degradations, as the reference implements them, on
real photos: the test data of tests/test_corruptions_distribution.py. Run by hand, in a side venv
with the reference stack, never in CI:

    python -m venv /work/venvs/robustsam-ref
    /work/venvs/robustsam-ref/bin/pip install numpy==1.23.5 albumentations==1.3.1 imgaug==0.4.0 \
        "opencv-python-headless<4.9" "scipy<1.12" "scikit-image<0.22"
    git -C <RobustSAM clone> show 6f0e2637:data/augment.py > /tmp/augment.py
    cd /tmp && /work/venvs/robustsam-ref/bin/python <repo>/tests/reference/robustsam_distributions.py \
        --augment /tmp/augment.py --data <repo>/../shared/data --seed-base 0 --draws 32 \
        --out <repo>/tests/data/robustsam_distributions/reference.json
    (again with --seed-base 100000 --out .../reference_calibration.json)

augment.py is read from the path given, never stored in this repository: only its import
statements (minus torchvision, tqdm and matplotlib, which the 15 functions do not use) and its
function definitions are executed, because its module level parses arguments and walks a folder.

Seeding: before draw k, ``random.seed(b + k); np.random.seed(b + k); imgaug.seed(b + k)`` with
b = --seed-base: the three RNGs the reference draws from (see
../shared/reference/robustsam-degradations.md). ``fog`` builds ``iaa.Fog(seed=1234)`` on every call, so
for one photo its cloud never changes; its distribution over clouds is measured by giving that Fog
the draw's seed instead (key ``fog``), and the fixed-seed behaviour is recorded as ``fog_seed_1234``.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402

from distribution_stats import DESCRIPTION, NAMES, PHOTOS, InputStats, draw_stats, load_photo, summarise  # noqa: E402

COMMIT = "6f0e2637e58f812985cdf9f403a5d7515a66fe38"
UNUSED = {"torchvision", "tqdm", "matplotlib"}


def load_reference(path: Path) -> dict:
    """The function definitions of augment.py, executed with its imports (minus UNUSED)."""
    tree = ast.parse(path.read_text())
    keep = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            keep.append(node)
        elif isinstance(node, ast.Import):
            node.names = [a for a in node.names if a.name.split(".")[0] not in UNUSED]
            keep += [node] if node.names else []
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] not in UNUSED:
            keep.append(node)
    ns: dict = {}
    exec(compile(ast.Module(body=keep, type_ignores=[]), str(path), "exec"), ns)
    return ns


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--augment", type=Path, required=True, help="RobustSAM data/augment.py @ " + COMMIT[:8])
    ap.add_argument("--data", type=Path, required=True, help="the shared data folder (../shared/data)")
    ap.add_argument("--seed-base", type=int, default=0)
    ap.add_argument("--draws", type=int, default=32)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--ops", default=",".join(NAMES), help="comma-separated subset (for trying things)")
    a = ap.parse_args()

    import cv2
    import imgaug
    import imgaug.augmenters as iaa
    import albumentations
    import PIL
    import scipy
    import skimage

    ref = load_reference(a.augment)
    real_fog = iaa.Fog

    ops = [o for o in a.ops.split(",") if o]
    results: dict = {}
    t0 = time.time()
    for photo in PHOTOS:
        x = load_photo(a.data, photo)
        inp = InputStats(x)
        for op in ops + (["fog_seed_1234"] if "fog" in ops else []):
            draws = []
            for k in range(a.draws):
                seed = a.seed_base + k
                random.seed(seed)
                np.random.seed(seed)
                imgaug.seed(seed)
                if op == "fog":
                    ref["iaa"].Fog = lambda _s=seed, **kw: real_fog(**{**kw, "seed": _s})
                else:
                    ref["iaa"].Fog = real_fog
                fn = ref["fog"] if op == "fog_seed_1234" else ref[op]
                y = fn(x.copy())
                draws.append(draw_stats(inp, np.ascontiguousarray(y)))
            results.setdefault(op, {})[photo] = summarise(draws)
            print(f"{photo} {op}: mad {results[op][photo]['mad']['mean']:.2f} ({time.time() - t0:.0f} s)", flush=True)
    ref["iaa"].Fog = real_fog

    photos = {}
    for name, (rel, crop) in PHOTOS.items():
        raw = (a.data / rel).read_bytes()
        photos[name] = {"file": rel, "sha256": hashlib.sha256(raw).hexdigest(),
                        "crop": f"centre {crop[0]}x{crop[1]}" if crop else "none"}
    header = {
        "what": "distributions of RobustSAM's degradations (data/augment.py) on real photos: per op, photo and "
                "statistic the mean, sample std and number of seeded draws",
        "made_by": "tests/reference/robustsam_distributions.py (run by hand in a side venv; see its docstring)",
        "reference": f"github.com/robustsam/RobustSAM data/augment.py @ {COMMIT}",
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "albumentations": albumentations.__version__, "imgaug": imgaug.__version__,
                     "opencv": cv2.__version__, "scipy": scipy.__version__, "scikit-image": skimage.__version__,
                     "pillow": PIL.__version__},
        "seeding": f"random.seed(s); np.random.seed(s); imgaug.seed(s) before each draw, s = {a.seed_base} .. "
                   f"{a.seed_base + a.draws - 1}; the function gets a copy of the photo (RGB uint8)",
        "fog": "key 'fog': iaa.Fog built with seed=s (the draw's seed) instead of the fixed 1234, so the cloud "
               "varies as it would across seeds; 'fog_seed_1234': the reference as written",
        "output": "the function's RGB uint8 array, before augment.py's JPEG q95 write",
        "photos": photos,
        "statistics": DESCRIPTION,
        "seconds": round(time.time() - t0, 1),
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"header": header, "results": results}, indent=1, sort_keys=False) + "\n")
    print("wrote", a.out)


if __name__ == "__main__":
    main()
