"""A labelled PNG grid of one image under every (corruption, severity) of a profile, for eyes."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .apply import apply_corruption
from .image import to_rgb_uint8

_LABEL_H = 14


def _tile(image: np.ndarray, label: str, tile: int) -> np.ndarray:
    h, w = image.shape[:2]
    s = tile / max(h, w)
    small = cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    cell = np.full((tile + _LABEL_H, tile, 3), 255, np.uint8)
    y0, x0 = _LABEL_H + (tile - small.shape[0]) // 2, (tile - small.shape[1]) // 2
    cell[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
    cv2.putText(cell, label[: max(4, tile // 6)], (2, _LABEL_H - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.3, (0, 0, 0), 1,
                cv2.LINE_AA)
    return cell


def render_contact_sheet(image: np.ndarray, profile: list[tuple[str, int]], out_path, seed: int = 0,
                         tile: int = 128) -> Path:
    """Write a PNG: the clear image, then one tile per (corruption, severity), one row per
    corruption (columns = its severities). Returns the path written."""
    img = to_rgb_uint8(image, what="contact sheet image")
    rows: dict[str, list[np.ndarray]] = {}
    for key, sev in profile:
        out, _ = apply_corruption(key, img, severity=sev, seed=seed, image_id="contact_sheet")
        name = key.split("/", 1)[-1]
        rows.setdefault(key, []).append(_tile(out, f"{name} {sev}" if sev else name, tile))
    grid = [[_tile(img, "clear", tile)]] + list(rows.values())
    ncol = max(len(r) for r in grid)
    blank = np.full((tile + _LABEL_H, tile, 3), 255, np.uint8)
    sheet = np.vstack([np.hstack(r + [blank] * (ncol - len(r))) for r in grid])
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out_path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write contact sheet to {out_path}")
    return out_path
