"""Contract checks for semantic models (``robustseg check-model`` on a model of kind ``semantic``):
named, so a failure says what to fix. Imported by ``baselines.check``."""
from __future__ import annotations

from typing import Callable

import numpy as np

from .semantic import SemanticSegmenter, validate_semantic_prediction


def run_semantic_checks(model: SemanticSegmenter, result: Callable) -> list:
    """``result(name, passed, detail)`` builds one check result (``baselines.check.CheckResult``)."""
    rng = np.random.default_rng(0)
    out = []

    def check(name: str, fn: Callable[[], str]) -> None:
        try:
            detail = fn()
            out.append(result(name, not detail, detail))
        except Exception as e:  # noqa: BLE001 - a check reports whatever the model raised
            out.append(result(name, False, f"{type(e).__name__}: {e}"))

    classes = tuple(getattr(model, "classes", ()))
    check("classes", lambda: "" if classes and all(isinstance(c, str) for c in classes)
          else "the model must name its classes (a non-empty tuple of str)")
    for h, w in ((48, 64), (37, 53)):
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)

        def output(img=img, h=h, w=w):
            validate_semantic_prediction(model.predict(img), len(classes), h, w, where=f"{h}x{w} image")
            return ""

        check(f"output[{h}x{w}]", output)
    img = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    check("determinism", lambda: "" if np.allclose(model.predict(img).scores, model.predict(img).scores, atol=1e-5)
          else "two predictions on the same image differ")
    return out
