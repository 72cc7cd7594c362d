"""Synthetic scenes for the ECOC self-training experiment, with a domain shift whose pseudo-label noise is
structured: it weakens only the cue that separates the two classes of each *similar pair*, so a source-
trained model confuses those classes on the target (the paper's "similar classes" noise, e.g. car/truck),
while classes of different pairs stay apart.

Classes: 0 sky (top), 1 ground (bottom band), pair A = 2 striped box / 3 plain box, pair B = 4 plain disk /
5 striped disk. Within a pair the mean colour is the same: the texture (stripes of period 4 px, horizontal
on boxes, vertical on disks) is the only cue. Every object instance gets its own colour jitter.

The target shift (a stand-in for fog / a soft lens): contrast reduced to 80 % towards the image mean,
sensor noise, then a Gaussian blur of sigma 0.9, which leaves the stripes about a third of their amplitude,
near the noise. Shapes and colours, which separate the pairs and the stuff classes, survive.

The labels of target scenes are made with them but never trained on: they score the pseudo-labels and the
predictions only."""
from __future__ import annotations

import cv2
import numpy as np

NUM_CLASSES, SIZE = 6, 64
CLASS_NAMES = ("sky", "ground", "striped box", "plain box", "plain disk", "striped disk")
#: the similar pairs the shift confuses
PAIRS = ((2, 3), (4, 5))
COLOURS = np.array([[120, 160, 220], [90, 90, 90], [170, 55, 50], [170, 55, 50], [60, 150, 60], [60, 150, 60]],
                   np.float32)
STRIPE_AMPLITUDE = 35.0


def _objects(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Label map and an instance map (0 = stuff; each box/disk its own id)."""
    lab = np.zeros((SIZE, SIZE), np.uint8)
    inst = np.zeros((SIZE, SIZE), np.int32)
    lab[int(rng.integers(40, 52)):] = 1
    k = 1
    for _ in range(int(rng.integers(2, 4))):
        x, y = (int(v) for v in rng.integers(0, SIZE - 14, 2))
        h, w = (int(v) for v in rng.integers(9, 18, 2))
        lab[y:y + h, x:x + w] = 2 + int(rng.integers(0, 2))
        inst[y:y + h, x:x + w] = k
        k += 1
    for _ in range(int(rng.integers(2, 4))):
        disk = np.zeros((SIZE, SIZE), np.uint8)
        cv2.circle(disk, tuple(int(v) for v in rng.integers(8, SIZE - 8, 2)), int(rng.integers(5, 10)), 1, -1)
        lab[disk > 0] = 4 + int(rng.integers(0, 2))
        inst[disk > 0] = k
        k += 1
    return lab, inst


def scene(rng: np.random.Generator, target: bool) -> tuple[np.ndarray, np.ndarray]:
    """(64, 64, 3) uint8 RGB image and (64, 64) uint8 labels of one scene, source or target domain."""
    lab, inst = _objects(rng)
    jitter = rng.normal(0, 12, (inst.max() + 1, 3)).astype(np.float32)  # per instance (stuff: id 0)
    img = COLOURS[lab] + jitter[inst]
    rows = np.where(np.arange(SIZE)[:, None] % 4 < 2, STRIPE_AMPLITUDE, -STRIPE_AMPLITUDE)
    img += ((lab == 2) * rows + (lab == 5) * rows.T)[..., None]
    img += rng.normal(0, 8, img.shape).astype(np.float32)
    if target:
        img = 0.8 * img + 0.2 * img.mean()
        img += rng.normal(0, 20, img.shape).astype(np.float32)
        img = cv2.GaussianBlur(img, (0, 0), 0.9)
    return np.clip(img, 0, 255).astype(np.uint8), lab


def within_pair_share(cm: np.ndarray) -> float:
    """Of the misclassified pixels of a (C, C) confusion matrix, the share confused within a similar pair."""
    off = cm.sum() - np.trace(cm)
    pair = sum(cm[a, b] + cm[b, a] for a, b in PAIRS)
    return float(pair / off) if off else 0.0
