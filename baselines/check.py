"""Contract tests runnable on any model, including a user's own ``module:Class``: the library function
behind ``robustseg check-model``. Each check is named, so a failure says exactly what to fix."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .contract import ModelOutputError, Prediction, PromptableSegmenter, Prompts, validate_prediction
from .check_semantic import run_semantic_checks
from .registry import create_model, resolve_model
from .semantic import SemanticSegmenter


@dataclass
class CheckResult:
    name: str
    passed: bool
    detail: str = ""


class ModelCheckError(ModelOutputError):
    """At least one contract check failed; the message lists every failed check."""


def check_image(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth random RGB image with a bright rectangle, so prompts land on something segmentable."""
    rng = np.random.default_rng(seed)
    img = rng.integers(40, 90, (h, w, 3)).astype(np.uint8)
    img[h // 4: 3 * h // 4, w // 4: w // 2] = rng.integers(180, 255, 3, dtype=np.uint8)
    return img


def check_prompts(h: int, w: int) -> dict[str, Prompts]:
    """Box, one-point and box+points prompt batches of 3 (same point count within a batch)."""
    boxes = np.array([[w * 0.2, h * 0.2, w * 0.55, h * 0.8], [2, 3, w * 0.4, h * 0.5],
                      [w * 0.5, h * 0.1, w - 1, h - 1]], np.float32)
    centres = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], 1)[:, None]
    two = np.concatenate([centres, np.array([[[1, 1]]] * 3, np.float32)], axis=1)
    return {"box": Prompts(boxes=boxes),
            "point": Prompts(points=centres.astype(np.float32), point_labels=np.ones((3, 1), np.int32)),
            "box+points": Prompts(boxes=boxes, points=two.astype(np.float32),
                                  point_labels=np.tile(np.array([[1, 0]], np.int32), (3, 1)))}


def _same(a: Prediction, b: Prediction, atol: float) -> str:
    """'' when equal (masks exactly; scores/logits/uncertainty to ``atol``), else what differs."""
    if a.masks.shape != b.masks.shape:
        return f"mask shapes {a.masks.shape} vs {b.masks.shape}"
    diff = int((a.masks != b.masks).sum())
    if diff > max(2, a.masks.size // 2000):  # a handful of pixels on the 0-logit boundary may flip
        return f"{diff} mask pixels differ"
    for name in ("scores", "logits", "uncertainty"):
        x, y = getattr(a, name), getattr(b, name)
        if (x is None) != (y is None):
            return f"{name} present in one output only"
        if x is not None and not np.allclose(x, y, atol=atol, rtol=1e-4):
            return f"{name} differ by up to {float(np.abs(np.asarray(x) - np.asarray(y)).max()):.3g}"
    return ""


def run_checks(model: PromptableSegmenter, image: np.ndarray | None = None, atol: float = 1e-4) -> list[CheckResult]:
    """Every contract check on a built model; a check that raises is reported, not propagated."""
    image = check_image() if image is None else image
    h, w = image.shape[:2]
    results: list[CheckResult] = []

    def check(name: str, fn: Callable[[], str | None]) -> None:
        try:
            detail = fn() or ""
            results.append(CheckResult(name, not detail.startswith("FAIL"), detail.removeprefix("FAIL: ")))
        except Exception as e:  # the model raised: that is the failure to report
            results.append(CheckResult(name, False, f"{type(e).__name__}: {e}"))

    prompts = check_prompts(h, w)
    outputs: dict[str, Prediction] = {}

    check("set_image", lambda: model.set_image(image))
    for kind, p in prompts.items():
        for mm in (False, True):
            def one(kind=kind, p=p, mm=mm):
                pred = model.predict(p, multimask=mm)
                validate_prediction(pred, len(p), h, w, where=f"{kind} prompts, multimask={mm}")
                if not mm and pred.masks.shape[1] != 1:
                    return f"FAIL: multimask=False must give K = 1, got K = {pred.masks.shape[1]}"
                outputs[f"{kind}/{mm}"] = pred
                return f"K = {pred.masks.shape[1]}"
            check(f"output[{kind}, multimask={mm}]", one)

    def determinism():
        model.set_image(image)
        again = model.predict(prompts["box"], multimask=True)
        return ("FAIL: " + d) if (d := _same(outputs["box/True"], again, atol)) else ""

    def batch_equals_loop():
        full = outputs["box+points/True"]
        for i in range(len(prompts["box+points"])):
            one = model.predict(prompts["box+points"].select(slice(i, i + 1)), multimask=True)
            sel = Prediction(full.masks[i:i + 1], full.scores[i:i + 1],
                             None if full.logits is None else full.logits[i:i + 1],
                             None if full.uncertainty is None else full.uncertainty[i:i + 1])
            if d := _same(sel, one, atol):
                return f"FAIL: prompt {i}: {d}"
        return ""

    def mask_feedback():
        prev = outputs["point/False"]
        if prev.logits is None:
            return "skipped: model returns no logits"
        p = prompts["point"]
        p2 = Prompts(points=p.points, point_labels=p.point_labels, mask_inputs=prev.logits[:, :1].astype(np.float32))
        validate_prediction(model.predict(p2, multimask=False), len(p2), h, w, where="second round with mask_inputs")
        return ""

    if "box/True" in outputs:
        check("determinism", determinism)
    if "box+points/True" in outputs:
        check("batch_equals_loop", batch_equals_loop)
    if "point/False" in outputs:
        check("mask_inputs round", mask_feedback)
    return results


def check_model(spec: str, checkpoint: str | None = None, device: str = "cpu", tiny: bool = True,
                **kwargs) -> list[CheckResult]:
    """Build ``spec`` (registry name or ``module:Class``) and run every check. ``tiny`` uses the registered
    test configuration (e.g. ``config="tiny"``) so the check runs in seconds without weights."""
    info = resolve_model(spec)
    build_kwargs = {**(dict(info.test_kwargs) if tiny and checkpoint is None else {}), **kwargs}
    try:
        model = create_model(spec, checkpoint=checkpoint, device=device, **build_kwargs)
    except Exception as e:
        return [CheckResult("build", False, f"{type(e).__name__}: {e}")]
    if isinstance(model, SemanticSegmenter):
        return [CheckResult("build", True, type(model).__name__)] + run_semantic_checks(model, CheckResult)
    return [CheckResult("build", True, type(model).__name__)] + run_checks(model)


def format_report(results: list[CheckResult]) -> str:
    lines = [f"{'PASS' if r.passed else 'FAIL'}  {r.name}" + (f": {r.detail}" if r.detail else "") for r in results]
    failed = [r.name for r in results if not r.passed]
    lines.append(f"{len(results) - len(failed)}/{len(results)} checks passed"
                 + (f"; failed: {', '.join(failed)}" if failed else ""))
    return "\n".join(lines)


def raise_on_failure(results: list[CheckResult]) -> None:
    """Raise ModelCheckError naming every failed check (for the CLI's non-zero exit)."""
    failed = [r for r in results if not r.passed]
    if failed:
        raise ModelCheckError("model failed checks: " + "; ".join(f"{r.name} ({r.detail})" for r in failed))
