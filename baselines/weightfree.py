"""Weight-free baselines that run anywhere: they set the floor every learned model must beat."""
from __future__ import annotations

import cv2
import numpy as np

from .contract import Prediction, PromptableSegmenter, Prompts
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


@register_model("box", description="the prompt box filled (points: their box grown by 10% of the short side)")
class BoxBaseline(_WeightFree):
    def predict(self, prompts: Prompts, multimask: bool = False) -> Prediction:
        h, w = self._require_image().shape[:2]
        masks = np.stack([_fill(b, h, w) for b in _prompt_boxes(prompts, h, w)])[:, None]
        return Prediction(masks=masks, scores=np.ones(masks.shape[:2], dtype=np.float32))


@register_model("grabcut", description="OpenCV GrabCut initialised from the prompt box or points, 5 iterations")
class GrabCutBaseline(_WeightFree):
    """GrabCut on a region of interest: the prompt box grown by half its size on each side, resized
    so its longer side is at most ``max_side`` pixels; the mask is resized back (nearest).

    Box prompts mark the box as probable foreground and the rest of the ROI as background; point
    prompts mark discs of radius 3 px around positive (negative) points as sure foreground
    (background) inside the points' grown box. OpenCV's RNG is reseeded per call, so results are
    deterministic."""

    def __init__(self, device: str = "cpu", iterations: int = 5, max_side: int = 160):
        super().__init__(device)
        self.iterations = iterations
        self.max_side = max_side

    def predict(self, prompts: Prompts, multimask: bool = False) -> Prediction:
        image = self._require_image()
        h, w = image.shape[:2]
        boxes = _prompt_boxes(prompts, h, w)
        out = []
        for i, box in enumerate(boxes):
            pts = None if prompts.points is None else (prompts.points[i], prompts.point_labels[i])
            out.append(self._one(image, box, pts))
        masks = np.stack(out)[:, None]
        return Prediction(masks=masks, scores=np.ones(masks.shape[:2], dtype=np.float32))

    def _one(self, image: np.ndarray, box: np.ndarray, pts) -> np.ndarray:
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
        return full
