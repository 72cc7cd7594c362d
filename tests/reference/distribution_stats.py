"""Per-draw statistics of a degradation (output against input) and the rule that compares two
distributions of them. Shared, unchanged, by the reference measurement (run by hand in a side venv
with RobustSAM's stack, numpy 1.23) and the CI test (our stack, numpy 2): so it imports numpy and
Pillow only, and nothing of robustseg or of the reference stack.

Why these statistics: a random degradation cannot be compared output for output with its reference,
but its strength (how much and how many pixels change), its sharpness, its colour and its contrast
effect have distributions over draws, and those must match RobustSAM's for a robustness number to be
comparable with the paper's.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

# RobustSAM's 15 degradations, in augment.py's order (its folder names).
NAMES = ("snow", "fog", "rain", "gauss_noise", "ISO_noise", "impulse_noise", "resampling_blur", "motion_blur",
         "zoom_blur", "color_jitter", "compression", "elastic_transform", "frosted_glass_blur", "brightness",
         "contrast")
STATS = ("mad", "changed40", "sharpness", "luma_shift", "sat_shift", "contrast")
DESCRIPTION = {
    "mad": "mean absolute change over all values, grey levels",
    "changed40": "share of pixels whose largest channel change exceeds 40 grey levels",
    "sharpness": "variance of the 4-neighbour Laplacian of luma, output over input",
    "luma_shift": "mean luma (0.299 R + 0.587 G + 0.114 B) of output minus input, grey levels",
    "sat_shift": "mean HSV saturation (max - min) / max x 255 of output minus input",
    "contrast": "standard deviation of luma, output over input",
}

# The comparison rule: means agree when |mean_ours - mean_ref| <= max(REL * |mean_ref|,
# K_SE * standard error of the difference, FLOOR[stat]). The floors are a few grey levels or
# percent: differences below them are invisible and not worth a failure.
REL = 0.15
K_SE = 4.0
FLOOR = {"mad": 1.0, "changed40": 0.01, "sharpness": 0.02, "luma_shift": 1.0, "sat_shift": 1.5, "contrast": 0.02}

# The photos both sides measure on (relative to ../shared/data), and how each is cut.
# ACDC frames are 1920x1080: the centre 1024x768 crop gives the benchmark size without resampling.
PHOTOS = {
    "acdc_rain_1024x768": ("adverse/acdc/rgb_anon/rain/GP010571/GP010571_frame_000784_rgb_anon.png", (1024, 768)),
    "coco_573008_640x480": ("coco/images/clarifai_coco/000000573008.jpg", None),
    "ecssd_0046_400x300": ("salient/ECSSD/images/0046.jpg", None),
}


def load_photo(data_dir: Path, name: str) -> np.ndarray:
    """The named photo as uint8 RGB, centre-cropped where PHOTOS says so."""
    from PIL import Image

    rel, crop = PHOTOS[name]
    with Image.open(Path(data_dir) / rel) as im:
        x = np.asarray(im.convert("RGB"))
    if crop is not None:
        w, h = crop
        top, left = (x.shape[0] - h) // 2, (x.shape[1] - w) // 2
        x = x[top:top + h, left:left + w]
    return np.ascontiguousarray(x)


def _luma(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32)
    return x[..., 0] * np.float32(0.299) + x[..., 1] * np.float32(0.587) + x[..., 2] * np.float32(0.114)


def _laplacian_var(luma: np.ndarray) -> float:
    lap = luma[1:-1, :-2] + luma[1:-1, 2:] + luma[:-2, 1:-1] + luma[2:, 1:-1] - 4 * luma[1:-1, 1:-1]
    return float(lap.astype(np.float64).var())


def _channel_max(a: np.ndarray) -> np.ndarray:
    return np.maximum(np.maximum(a[..., 0], a[..., 1]), a[..., 2])


def _channel_min(a: np.ndarray) -> np.ndarray:
    return np.minimum(np.minimum(a[..., 0], a[..., 1]), a[..., 2])


def _saturation(x: np.ndarray) -> float:
    hi = _channel_max(x).astype(np.float32)
    lo = _channel_min(x).astype(np.float32)
    s = np.divide(hi - lo, hi, out=np.zeros_like(hi), where=hi > 0)
    return float(s.mean(dtype=np.float64) * 255)


class InputStats:
    """The input's side of every statistic, computed once per photo."""

    def __init__(self, x: np.ndarray):
        self.x = x
        luma = _luma(x)
        self.luma_mean = float(luma.mean(dtype=np.float64))
        self.luma_std = float(luma.std(dtype=np.float64))
        self.lap_var = _laplacian_var(luma)
        self.sat = _saturation(x)


def draw_stats(inp: InputStats, y: np.ndarray) -> dict[str, float]:
    """The six statistics of one output ``y`` (uint8 HxWx3 RGB) against its input."""
    if y.shape != inp.x.shape or y.dtype != np.uint8:
        raise ValueError(f"output {y.dtype} {y.shape} does not match input uint8 {inp.x.shape}")
    d = np.maximum(y, inp.x)
    d -= np.minimum(y, inp.x)  # |y - x| in uint8
    luma = _luma(y)
    return {
        "mad": int(d.sum(dtype=np.uint64)) / d.size,
        "changed40": float(np.count_nonzero(_channel_max(d) > 40) / (d.size // 3)),
        "sharpness": _laplacian_var(luma) / inp.lap_var,
        "luma_shift": float(luma.mean(dtype=np.float64)) - inp.luma_mean,
        "sat_shift": _saturation(y) - inp.sat,
        "contrast": float(luma.std(dtype=np.float64)) / inp.luma_std,
    }


def summarise(draws: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean, sample standard deviation and count per statistic."""
    out = {}
    for s in STATS:
        v = np.array([d[s] for d in draws], dtype=np.float64)
        out[s] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "n": int(len(v))}
    return out


def compare(stat: str, ours: dict[str, float], ref: dict[str, float]) -> tuple[bool, float, float]:
    """(agrees, |difference of means|, allowed difference) under the rule above."""
    diff = abs(ours["mean"] - ref["mean"])
    se = math.sqrt(ours["std"] ** 2 / ours["n"] + ref["std"] ** 2 / ref["n"])
    allowed = max(REL * abs(ref["mean"]), K_SE * se, FLOOR[stat])
    return diff <= allowed, diff, allowed
