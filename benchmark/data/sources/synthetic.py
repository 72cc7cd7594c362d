"""The embedded default source: procedural scenes with exact instance masks, no downloads.

Each image is a pure function of (seed, index): a textured background and 1-8 objects (blobs,
polygons, stars, rings with holes, shapes with thin limbs) whose sizes span the COCO small,
medium and large buckets; later objects occlude earlier ones and the masks say so exactly."""
from __future__ import annotations

import cv2
import numpy as np

from ..schema import ObjectAnn, Sample
from .base import Source, register_source
from ...errors import UsageError

SHAPES = ("blob", "polygon", "star", "ring", "limbed", "arc")
MIN_VISIBLE_AREA = 12  # an object occluded below this many pixels is dropped


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """Value noise in [-1, 1]: coarse random grid, bicubic upsampling."""
    gh, gw = max(2, h // cell + 2), max(2, w // cell + 2)
    coarse = rng.uniform(-1, 1, size=(gh, gw)).astype(np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)


def _texture(rng: np.random.Generator, h: int, w: int, base: np.ndarray, strength: float) -> np.ndarray:
    """A colour field: a two-colour gradient, gratings and multi-scale noise around ``base``."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = rng.uniform(0, np.pi)
    t = (np.cos(theta) * xx + np.sin(theta) * yy) / max(h, w)
    other = np.clip(base + rng.normal(0, 50, 3), 0, 255)
    img = base[None, None, :] * (1 - t[..., None]) + other[None, None, :] * t[..., None]
    lum = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(1, 4))):
        f = rng.uniform(0.02, 0.25)
        a = rng.uniform(0, np.pi)
        lum += rng.uniform(0.2, 1.0) * np.sin(f * (np.cos(a) * xx + np.sin(a) * yy) + rng.uniform(0, 2 * np.pi))
    for cell in (64, 16, 4):
        lum += rng.uniform(0.3, 1.0) * _smooth_noise(rng, h, w, cell)
    lum += 0.35 * rng.standard_normal((h, w), dtype=np.float32)
    return img + strength * lum[..., None] * rng.uniform(0.6, 1.0, size=3)[None, None, :].astype(np.float32)


def _polygon_mask(pts: np.ndarray, h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    cv2.fillPoly(m, [np.round(pts).astype(np.int32)], 1, lineType=cv2.LINE_8)
    return m.astype(bool)


def _radial(rng, cx, cy, r, n_vertices, roughness):
    ang = np.linspace(0, 2 * np.pi, n_vertices, endpoint=False)
    rad = np.ones_like(ang)
    for k in range(2, 6):
        rad += roughness * rng.uniform(0, 1) / k * np.sin(k * ang + rng.uniform(0, 2 * np.pi))
    rad = r * np.clip(rad, 0.35, None)
    return np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1)


def _shape_mask(rng: np.random.Generator, kind: str, cx: float, cy: float, r: float, h: int, w: int) -> np.ndarray:
    if kind == "blob":
        return _polygon_mask(_radial(rng, cx, cy, r, 64, 0.8), h, w)
    if kind == "polygon":
        n = int(rng.integers(3, 8))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = r * rng.uniform(0.6, 1.0, n)
        return _polygon_mask(np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1), h, w)
    if kind == "star":
        n = int(rng.integers(4, 9))
        ang = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False) + rng.uniform(0, np.pi)
        rad = np.where(np.arange(2 * n) % 2 == 0, r, r * rng.uniform(0.3, 0.55))
        return _polygon_mask(np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1), h, w)
    if kind == "ring":  # a shape with a hole
        outer = _polygon_mask(_radial(rng, cx, cy, r, 64, 0.3), h, w)
        inner = _polygon_mask(_radial(rng, cx, cy, r * rng.uniform(0.35, 0.6), 48, 0.3), h, w)
        return outer & ~inner
    if kind == "limbed":  # a body with thin limbs (1-3 px wide)
        m = _polygon_mask(_radial(rng, cx, cy, 0.55 * r, 48, 0.5), h, w).astype(np.uint8)
        for _ in range(int(rng.integers(1, 4))):
            a = rng.uniform(0, 2 * np.pi)
            end = (int(round(cx + 1.6 * r * np.cos(a))), int(round(cy + 1.6 * r * np.sin(a))))
            cv2.line(m, (int(round(cx)), int(round(cy))), end, 1, int(rng.integers(1, 4)), lineType=cv2.LINE_8)
        return m.astype(bool)
    if kind == "arc":  # a thick open curve (concave, elongated)
        m = np.zeros((h, w), np.uint8)
        start = rng.uniform(0, 360)
        cv2.ellipse(m, (int(round(cx)), int(round(cy))), (max(1, int(r)), max(1, int(r * rng.uniform(0.5, 1.0)))),
                    rng.uniform(0, 180), start, start + rng.uniform(120, 300), 1, max(1, int(r * rng.uniform(0.1, 0.3))))
        return m.astype(bool)
    raise ValueError(kind)


def generate_scene(rng: np.random.Generator, height: int, width: int, max_objects: int = 8):
    """(image uint8 HxWx3, list of (mask, category)) with occlusion applied to the masks."""
    base = rng.uniform(40, 215, 3).astype(np.float32)
    image = _texture(rng, height, width, base, strength=rng.uniform(10, 30))
    n = int(rng.integers(1, max_objects + 1))
    diag = float(np.hypot(height, width))
    objs: list[tuple[np.ndarray, str]] = []
    attempts = 0
    while len(objs) < n and attempts < 4 * max_objects:  # redraw shapes that fall (almost) outside the image
        attempts += 1
        kind = SHAPES[int(rng.integers(len(SHAPES)))]
        # log-uniform radius: from ~3 px (COCO small) to ~0.3 of the diagonal (large)
        r = float(np.exp(rng.uniform(np.log(max(3.0, 0.012 * diag)), np.log(0.3 * diag))))
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        mask = _shape_mask(rng, kind, cx, cy, r, height, width)
        if mask.sum() < MIN_VISIBLE_AREA:
            continue
        color = np.clip(base + rng.choice([-1, 1], 3) * rng.uniform(40, 120, 3), 0, 255).astype(np.float32)
        ys, xs = np.nonzero(mask)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        m = mask[y0:y1, x0:x1]
        tex = _texture(rng, y1 - y0, x1 - x0, color, strength=rng.uniform(5, 25))
        # shading: darker towards the mask boundary, so objects look solid
        dist = cv2.distanceTransform(np.pad(m, 1).astype(np.uint8), cv2.DIST_L2, 3)[1:-1, 1:-1]
        shade = 0.75 + 0.25 * np.minimum(dist / max(1.0, r * 0.5), 1.0)
        window = image[y0:y1, x0:x1]
        window[m] = (tex * shade[..., None])[m]
        objs = [(m & ~mask, c) for m, c in objs]
        objs.append((mask, kind))
    image = np.clip(image, 0, 255).astype(np.uint8)
    visible = [(m, c) for m, c in objs if m.sum() >= MIN_VISIBLE_AREA]
    return image, visible


@register_source("synthetic", description="procedural textured scenes with 1-8 occluding objects and exact masks (built in)",
                 layout="none: generated from --seed, --num-images, --image-size")
class SyntheticSource(Source):
    license = "CC0-1.0 (generated by robustseg)"
    citation = ""
    homepage = ""

    def __init__(self, num_images: int = 32, width: int = 320, height: int = 240, seed: int = 0, max_objects: int = 8):
        if num_images < 1 or width < 16 or height < 16:
            raise UsageError("synthetic: need num_images >= 1 and width, height >= 16")
        self.num_images, self.width, self.height, self.seed, self.max_objects = num_images, width, height, seed, max_objects

    def __len__(self) -> int:
        return self.num_images

    def params(self) -> dict:
        return {"num_images": self.num_images, "width": self.width, "height": self.height, "seed": self.seed,
                "max_objects": self.max_objects}

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < self.num_images:
            raise IndexError(index)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, index, 0x5EED]))
        image, objs = generate_scene(rng, self.height, self.width, self.max_objects)
        objects = [ObjectAnn(id=i + 1, mask=m, category=c) for i, (m, c) in enumerate(objs)]
        return Sample(image_id=f"synthetic_{self.seed}_{index:06d}", image=image, objects=objects, source="synthetic")
