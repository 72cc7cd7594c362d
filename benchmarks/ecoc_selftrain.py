"""ECOC vs one-hot pseudo-labels in DACS-style self-training, at a size this machine runs in minutes.

Synthetic scenes with six classes (background, ground band, boxes, disks, poles, striped patches) are
the labelled source; the same kind of scenes under a domain shift (darker, colour cast, heavy noise,
blur: a stand-in for night/fog) are the unlabelled target. A tiny random-init SegFormer (the ``tiny``
MiT config) is trained on the source (warm-up), then self-trained with an EMA teacher and ClassMix
(``benchmark.train.ecocseg``), once with the softmax head and DACS's one-hot pseudo-labels, once with the
ECOC head, reliable bit mining and hybrid pseudo-labels. Same seeds, data, steps and optimiser for both.
Reported: target mIoU on held-out target scenes after warm-up and after self-training, per seed.

    python benchmarks/ecoc_selftrain.py --seeds 0 1 2
"""
from __future__ import annotations

import argparse
import copy
import json
import time

import cv2
import numpy as np
import torch

from baselines.ecoc.codebook import min_distance, random_codebook
from baselines.segformer.configs import CONFIGS
from baselines.segformer.head import SegFormer
from benchmark.eval.confusion import confusion_matrix, semantic_scores
from benchmark.train.ecocseg import SelfTrainConfig, ema_update, predict_classes, self_training_loss, supervised_loss

C, SIZE = 6, 64
COLOURS = np.array([[120, 160, 220], [90, 90, 90], [180, 60, 50], [60, 150, 60], [220, 200, 60], [150, 80, 170]])


def scene(rng: np.random.Generator, target: bool) -> tuple[np.ndarray, np.ndarray]:
    lab = np.zeros((SIZE, SIZE), np.uint8)
    lab[int(rng.integers(38, 50)):] = 1
    for _ in range(rng.integers(1, 3)):
        x, y = rng.integers(0, SIZE - 16, 2)
        lab[y:y + rng.integers(8, 18), x:x + rng.integers(8, 18)] = 2
    for _ in range(rng.integers(1, 3)):
        cv2.circle(lab, tuple(int(v) for v in rng.integers(8, SIZE - 8, 2)), int(rng.integers(4, 9)), 3, -1)
    for _ in range(rng.integers(1, 3)):
        x = int(rng.integers(0, SIZE - 3))
        lab[int(rng.integers(0, 30)):int(rng.integers(40, SIZE)), x:x + 2] = 4
    x, y = rng.integers(0, SIZE - 14, 2)
    patch = np.zeros((SIZE, SIZE), bool)
    patch[y:y + 14, x:x + 14] = True
    lab[patch & (np.arange(SIZE)[:, None] % 4 < 2)] = 5
    img = COLOURS[lab].astype(np.float32) + rng.normal(0, 12, (C,))[lab][..., None] + rng.normal(0, 8, lab.shape + (3,))
    if target:  # the shift: darker, blue cast, strong noise, blur
        img = 0.45 * img + np.array([10, 20, 60]) + rng.normal(0, 28, img.shape)
        img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), 1.2)
    return np.clip(img, 0, 255).astype(np.uint8), lab


def batch(rng, n, target):
    imgs, labs = zip(*(scene(rng, target) for _ in range(n)))
    x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float()
    return (x - 127.5) / 64.0, torch.from_numpy(np.stack(labs)).long()


def miou(net, cfg, codebook, test) -> float:
    x, y = test
    net.train(False)
    pred = predict_classes(net, x, cfg, codebook).numpy()
    net.train(True)
    return semantic_scores(sum(confusion_matrix(g, p, C) for g, p in zip(y.numpy(), pred)))["miou"]


def run(head: str, seed: int, warmup: int, steps: int, bits: int, ema: float) -> dict:
    torch.manual_seed(seed)
    cfg = SelfTrainConfig(head=head, ema_alpha=ema)
    codebook = torch.from_numpy(random_codebook(C, bits, trials=20_000, seed=seed).astype(np.int64)) if head == "ecoc" else None
    net = SegFormer(CONFIGS["tiny"], bits if head == "ecoc" else C)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=0.01)
    data = np.random.default_rng(seed)
    test = batch(np.random.default_rng(10_000 + seed), 32, target=True)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(warmup):
        x, y = batch(data, 8, target=False)
        opt.zero_grad()
        supervised_loss(net(x), y, cfg, codebook).backward()
        opt.step()
    after_warmup = miou(net, cfg, codebook, test)
    teacher = copy.deepcopy(net)
    teacher.train(False)
    for _ in range(steps):
        (xs, ys), (xt, _) = batch(data, 8, target=False), batch(data, 8, target=True)
        opt.zero_grad()
        self_training_loss(net, teacher, xs, ys, xt, cfg, codebook, gen).backward()
        opt.step()
        ema_update(teacher, net, cfg.ema_alpha)
    return {"head": head, "seed": seed, "warmup_miou": after_warmup, "final_miou": miou(net, cfg, codebook, test),
            "teacher_miou": miou(teacher, cfg, codebook, test),
            "min_distance": int(min_distance(codebook.numpy())) if codebook is not None else 2}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--warmup", type=int, default=150)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--bits", type=int, default=16)
    ap.add_argument("--ema", type=float, default=0.99)
    a = ap.parse_args()
    torch.set_num_threads(1)
    rows = []
    for seed in a.seeds:
        for head in ("softmax", "ecoc"):
            t = time.time()
            r = run(head, seed, a.warmup, a.steps, a.bits, a.ema) | {"seconds": round(time.time() - t, 1)}
            print(json.dumps(r), flush=True)
            rows.append(r)
    print("| head | seed | target mIoU after warm-up | after self-training (student) | (EMA teacher) |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['head']} | {r['seed']} | {100 * r['warmup_miou']:.2f} | {100 * r['final_miou']:.2f} | "
              f"{100 * r['teacher_miou']:.2f} |")
    for head in ("softmax", "ecoc"):
        v = [100 * r["final_miou"] for r in rows if r["head"] == head]
        print(f"{head}: mean {np.mean(v):.2f} over seeds {a.seeds}")


if __name__ == "__main__":
    main()
