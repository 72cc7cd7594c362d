"""Import the official ``segment_anything.modeling`` classes without running the package ``__init__``.

Why: ``segment_anything/__init__.py`` imports ``utils/transforms.py``, which imports torchvision; on this
CPU-only install torchvision cannot be imported, yet the modeling classes never use it. When the normal
import fails we register a bare package module (no ``__init__`` executed) whose ``__path__`` points at the
installed package directory, so ``segment_anything.modeling`` and its submodules load normally."""
from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from types import ModuleType


class MissingDependencyError(ImportError):
    """A model needs an optional package (torch, segment-anything) that is not installed."""


def require_torch() -> ModuleType:
    try:
        import torch
    except ImportError as e:  # pragma: no cover - depends on the install
        raise MissingDependencyError("SAM-family models need torch: pip install 'robustseg[models]'") from e
    return torch


def sam_modeling() -> ModuleType:
    """The official ``segment_anything.modeling`` module (segment-anything 1.0)."""
    require_torch()
    if "segment_anything.modeling" in sys.modules:
        return sys.modules["segment_anything.modeling"]
    try:
        return importlib.import_module("segment_anything.modeling")
    except ImportError as e:
        if "torchvision" not in str(e):
            raise MissingDependencyError(f"SAM-family models need segment-anything: {e}") from e
    spec = importlib.util.find_spec("segment_anything")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover
        raise MissingDependencyError("SAM-family models need segment-anything: pip install segment-anything")
    for name in [n for n in sys.modules if n == "segment_anything" or n.startswith("segment_anything.")]:
        del sys.modules[name]  # drop the half-imported package left by the failed import
    pkg = types.ModuleType("segment_anything")
    pkg.__path__ = list(spec.submodule_search_locations)
    pkg.__file__ = spec.origin
    pkg.__spec__ = spec
    pkg.__package__ = "segment_anything"
    sys.modules["segment_anything"] = pkg
    return importlib.import_module("segment_anything.modeling")
