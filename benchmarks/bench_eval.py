"""Evaluator overhead: wall time of ``evaluate`` against the time spent inside the model, with a
weight-free model, at 1024x768. Run by hand: ``python benchmarks/bench_eval.py [--images 8]``.

Overhead = (evaluate time - model time) / model time: decoding images and masks, prompts, metrics,
result writing. The per-instance metric cost alone is in ``bench_metrics.py``."""
from __future__ import annotations

import argparse
import tempfile
import time

import cv2

from baselines import create_model
from benchmark.data.build import BuildConfig, build
from benchmark.eval.evaluate import evaluate


class Timed:
    """Wraps a model and accumulates the seconds spent in set_image and predict."""

    def __init__(self, model):
        self.model, self.seconds = model, 0.0

    def __getattr__(self, name):
        return getattr(self.model, name)

    def set_image(self, image):
        t = time.perf_counter()
        self.model.set_image(image)
        self.seconds += time.perf_counter() - t

    def predict(self, prompts, multimask=False):
        t = time.perf_counter()
        out = self.model.predict(prompts, multimask=multimask)
        self.seconds += time.perf_counter() - t
        return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--models", default="box,grabcut")
    ap.add_argument("--protocols", default="box,point")
    a = ap.parse_args()
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp:
        build(BuildConfig(source_options={"num_images": a.images, "width": 1024, "height": 768}, profile="clear",
                          images_per_shard=a.images), f"{tmp}/ds")
        print("| model | protocol | instances | evaluate s | model s | overhead / model time | ms per instance outside the model |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for name in a.models.split(","):
            for protocol in a.protocols.split(","):
                from baselines.contract import PromptableSegmenter

                model = create_model(name)
                timed = Timed(model)
                PromptableSegmenter.register(Timed)
                t = time.perf_counter()
                r = evaluate(timed, f"{tmp}/ds", protocol, f"{tmp}/r-{name}-{protocol}")
                total = time.perf_counter() - t
                outside = total - timed.seconds
                print(f"| {name} | {protocol} | {r.rows} | {total:.2f} | {timed.seconds:.2f} | "
                      f"{outside / timed.seconds:.2f} | {1000 * outside / r.rows:.1f} |")


if __name__ == "__main__":
    main()
