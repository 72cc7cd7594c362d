"""Weight-free baselines that run anywhere: they set the floor every learned model must beat.

Both give a real confidence score, so AP ranks their masks: the **colour separability** of the mask
against a ring of pixels around it, the Bhattacharyya distance (OpenCV ``compareHist``) between the
8x8x8-bin RGB histograms of the mask and of the ring (the mask dilated by max(3, 15% of the square root of
its area) pixels, minus the mask), in [0, 1]. A mask whose colours differ from its surroundings scores
high; an empty mask, or one with no ring (it fills the image), scores 0."""
from __future__ import annotations

import cv2
import numpy as np

from .contract import ModelArgumentError, Prediction, PromptableSegmenter, Prompts
from .registry import register_model


def _point_box(points: np.ndarray, labels: np.ndarray, h: int, w: int) -> np.ndarray:
    """Box around the positive points, grown by a tenth of the shorter image side."""
    pos = points[labels == 1] if (labels == 1).any() else points
    r = 0.1 * min(h, w)
    x0, y0 = pos.min(0) - r
    x1, y1 = pos.max(0) + r
    return np.array([max(0, x0), max(0, y0), min(w - 1, x1), min(h - 1, y1)], dtype=np.float32)


def _prompt_boxes(prompts: Prompts, h: int, w: int) -> np.ndarray:
    if prompts.boxes is not None:
        return np.asarray(prompts.boxes, dtype=np.float32).reshape(-1, 4)
    return np.stack([_point_box(p, l, h, w) for p, l in zip(prompts.points, prompts.point_labels)])


def _fill(box: np.ndarray, h: int, w: int) -> np.ndarray:
    """The pixels of an inclusive [x_min, y_min, x_max, y_max] box of pixel indices."""
    x0, y0, x1, y1 = box
    m = np.zeros((h, w), dtype=bool)
    m[int(np.ceil(max(0, y0))):int(np.floor(min(h - 1, y1))) + 1, int(np.ceil(max(0, x0))):int(np.floor(min(w - 1, x1))) + 1] = True
    return m


def separability(image: np.ndarray, mask: np.ndarray) -> float:
    """Bhattacharyya distance between the colour histograms of ``mask`` and the ring around it (see
    the module docstring): why a weight-free mask deserves more or less confidence than another."""
    area = int(mask.sum())
    if area == 0:
        return 0.0
    r = max(3, int(round(0.15 * np.sqrt(area))))
    ys, xs = np.nonzero(mask)
    y0, y1 = max(0, ys.min() - r), min(mask.shape[0], ys.max() + r + 1)
    x0, x1 = max(0, xs.min() - r), min(mask.shape[1], xs.max() + r + 1)
    inner = mask[y0:y1, x0:x1].astype(np.uint8)
    ring = cv2.dilate(inner, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))) & (1 - inner)
    if not ring.any():
        return 0.0
    roi = np.ascontiguousarray(image[y0:y1, x0:x1])
    hist = [cv2.calcHist([roi], [0, 1, 2], m, [8, 8, 8], [0, 256] * 3) for m in (inner, ring)]
    return float(np.clip(cv2.compareHist(hist[0], hist[1], cv2.HISTCMP_BHATTACHARYYA), 0.0, 1.0))


def _scored(image: np.ndarray, masks: list[np.ndarray]) -> Prediction:
    m = np.stack(masks)[:, None]
    return Prediction(masks=m, scores=np.array([[separability(image, x)] for x in masks], dtype=np.float32))


class _WeightFree(PromptableSegmenter):
    def __init__(self, device: str = "cpu"):
        self.device = device  # accepted for a uniform factory signature; these run on the CPU
        self._image: np.ndarray | None = None

    def set_image(self, image: np.ndarray) -> None:
        self._image = np.ascontiguousarray(image)

    def _require_image(self) -> np.ndarray:
        if self._image is None:
            raise RuntimeError(f"{self.name}: call set_image() before predict()")
        return self._image


@register_model("box", description="the prompt box filled (points: their box grown by 10% of the short side); "
                                   "score: colour separability")
class BoxBaseline(_WeightFree):
    def predict(self, prompts: Prompts, multimask: bool = False) -> Prediction:
        image = self._require_image()
        h, w = image.shape[:2]
        return _scored(image, [_fill(b, h, w) for b in _prompt_boxes(prompts, h, w)])


@register_model("grabcut", description="OpenCV GrabCut initialised from the prompt box or points, 5 iterations; "
                                       "the prompt box when its mask is degenerate; score: colour separability")
class GrabCutBaseline(_WeightFree):
    """GrabCut on a region of interest: the prompt box grown by half its size on each side, resized
    so its longer side is at most ``max_side`` pixels; the mask is resized back (nearest).

    Box prompts mark the box as probable foreground and the rest of the ROI as background; point
    prompts mark discs of radius 3 px around positive (negative) points as sure foreground
    (background) inside the points' grown box. OpenCV's RNG is reseeded per call, so results are
    deterministic.

    Fallback rule, box prompts: when GrabCut's mask keeps less than ``min_box_fraction`` (10%) of the
    prompt box's pixels (empty, or collapsed onto a sliver, as on low-contrast photos), or covers the
    whole region of interest (no background found), the prediction is the filled prompt box, the ``box``
    baseline's mask, so GrabCut never scores below the trivial box by giving up. Point prompts: the
    points' grown box is no statement about the object's extent, so only an empty mask, or one that
    contains none of the positive points, falls back to that box."""

    def __init__(self, device: str = "cpu", iterations: int = 5, max_side: int = 160, min_box_fraction: float = 0.1):
        super().__init__(device)
        for key, value, low, high in (("iterations", iterations, 1, 100), ("max_side", max_side, 16, 4096),
                                      ("min_box_fraction", min_box_fraction, 0.0, 1.0)):
            if not low <= value <= high:  # types are checked by the registry (check_model_arguments)
                raise ModelArgumentError(f"model 'grabcut': option {key} must be in [{low}, {high}], got {value!r}")
        self.iterations = iterations
        self.max_side = max_side
        self.min_box_fraction = min_box_fraction

    def predict(self, prompts: Prompts, multimask: bool = False) -> Prediction:
        image = self._require_image()
        h, w = image.shape[:2]
        boxes = _prompt_boxes(prompts, h, w)
        out = []
        for i, box in enumerate(boxes):
            pts = None if prompts.points is None else (prompts.points[i], prompts.point_labels[i])
            mask, whole_roi = self._one(image, box, pts)
            out.append(self._with_fallback(image, box, mask, whole_roi) if pts is None
                       else self._points_fallback(image, box, mask, pts))
        return _scored(image, out)

    def _with_fallback(self, image: np.ndarray, box: np.ndarray, mask: np.ndarray, whole_roi: bool) -> np.ndarray:
        """The class docstring's fallback rule for box prompts."""
        h, w = image.shape[:2]
        filled = _fill(box, h, w)
        kept = int((mask & filled).sum())
        degenerate = kept < self.min_box_fraction * max(1, int(filled.sum())) or whole_roi
        return filled if degenerate else mask

    def _points_fallback(self, image: np.ndarray, box: np.ndarray, mask: np.ndarray, pts) -> np.ndarray:
        """The class docstring's fallback rule for point prompts."""
        h, w = image.shape[:2]
        points, labels = pts
        inside = [mask[min(h - 1, max(0, int(round(y)))), min(w - 1, max(0, int(round(x))))]
                  for (x, y), lab in zip(points, labels) if lab == 1]
        return mask if mask.any() and (not inside or any(inside)) else _fill(box, h, w)

    def _one(self, image: np.ndarray, box: np.ndarray, pts) -> tuple[np.ndarray, bool]:
        """GrabCut's mask at image size, and whether it covers its whole region of interest."""
        h, w = image.shape[:2]
        x0, y0, x1, y1 = box
        mx, my = max(8.0, 0.5 * (x1 - x0)), max(8.0, 0.5 * (y1 - y0))
        rx0, ry0 = int(max(0, np.floor(x0 - mx))), int(max(0, np.floor(y0 - my)))
        rx1, ry1 = int(min(w, np.ceil(x1 + mx))), int(min(h, np.ceil(y1 + my)))
        roi = image[ry0:ry1, rx0:rx1]
        rh, rw = roi.shape[:2]
        scale = min(1.0, self.max_side / max(rh, rw))
        sw, sh = max(1, round(rw * scale)), max(1, round(rh * scale))
        small = cv2.resize(roi, (sw, sh), interpolation=cv2.INTER_AREA) if scale < 1 else roi
        offset = np.array([rx0, ry0, rx0, ry0], np.float32)
        init = np.where(_fill((box - offset) * scale, sh, sw), cv2.GC_PR_FGD, cv2.GC_BGD).astype(np.uint8)
        if pts is not None:
            for (x, y), lab in zip(*pts):
                c = (int(round((x - rx0) * scale)), int(round((y - ry0) * scale)))
                cv2.circle(init, c, 3, cv2.GC_FGD if lab == 1 else cv2.GC_BGD, -1)
        fg = (init == cv2.GC_FGD) | (init == cv2.GC_PR_FGD)
        if fg.any() and not fg.all() and min(sh, sw) >= 2:
            cv2.setRNGSeed(0)
            bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
            try:
                cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), init, None, bgd, fgd, self.iterations,
                            cv2.GC_INIT_WITH_MASK)
            except cv2.error:
                pass  # degenerate colour model (e.g. a flat region): keep the initialisation
            fg = (init == cv2.GC_FGD) | (init == cv2.GC_PR_FGD)
        if scale < 1:
            fg = cv2.resize(fg.astype(np.uint8), (rw, rh), interpolation=cv2.INTER_NEAREST).astype(bool)
        full = np.zeros((h, w), dtype=bool)
        full[ry0:ry1, rx0:rx1] = fg
        return full, bool(fg.all())
