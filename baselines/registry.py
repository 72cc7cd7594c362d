"""Model registry: by decorator, by ``robustseg.models`` entry points, or by ``module:Class``."""
from __future__ import annotations

import importlib
import importlib.metadata
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .contract import PromptableSegmenter
from .semantic import SemanticSegmenter

ENTRY_POINT_GROUP = "robustseg.models"


@dataclass(frozen=True)
class ModelInfo:
    name: str
    factory: Callable[..., PromptableSegmenter]
    description: str
    checkpoint_files: tuple[str, ...] = ()  # file names the official release uses; () = weight-free
    public_weights: bool = True  # False: none published, the user must train or obtain them
    requires: tuple[str, ...] = ()  # importable modules needed (checked lazily)
    tags: tuple[str, ...] = field(default=())
    test_kwargs: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"config": "tiny"} for fast tests
    verified: str = ""  # what was checked against official code or key lists, and what could not be
    kind: str = "promptable"  # one of KINDS: which contract the factory's model implements

    @property
    def weights_status(self) -> str:
        if not self.checkpoint_files:
            return "weight-free"
        files = ", ".join(self.checkpoint_files)
        return f"expects {files}" if self.public_weights else f"no public weights published (loads {files} if you have one)"


_MODELS: dict[str, ModelInfo] = {}
#: model kind -> the contract class its models implement
KINDS = {"promptable": PromptableSegmenter, "semantic": SemanticSegmenter}


class UnknownModelError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def register_model(name: str, *, description: str, checkpoint_files=(), public_weights: bool = True,
                   requires=(), tags=(), test_kwargs: Mapping[str, Any] | None = None, verified: str = "",
                   kind: str = "promptable"):
    """Decorator on a PromptableSegmenter subclass or a factory returning one. ``test_kwargs`` are
    passed by the generated contract tests (a tiny random-init configuration for learned models)."""

    def deco(factory):
        if name in _MODELS:
            raise ValueError(f"model {name!r} registered twice")
        if kind not in KINDS:
            raise ValueError(f"model {name!r}: unknown kind {kind!r}; valid: {', '.join(KINDS)}")
        _MODELS[name] = ModelInfo(name, factory, description, tuple(checkpoint_files), public_weights,
                                  tuple(requires), tuple(tags), dict(test_kwargs or {}), verified, kind)
        return factory

    return deco


def _load_builtin() -> None:
    from . import zoo  # noqa: F401  (registers the built-in models)

    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in _MODELS:
            try:
                obj = ep.load()
            except Exception as e:  # one broken plug-in must not hide every other model
                warnings.warn(f"entry point {ep.name!r} ({ep.value}) in group {ENTRY_POINT_GROUP} failed to load: {e}")
                continue
            if ep.name not in _MODELS:  # the module may have registered itself on import
                register_model(ep.name, description=f"third-party model from {ep.value}")(obj)


def list_models(kind: str | None = None) -> list[ModelInfo]:
    """Every registered model, or those of one ``kind`` ("promptable", "semantic")."""
    _load_builtin()
    return sorted((m for m in _MODELS.values() if kind is None or m.kind == kind), key=lambda m: m.name)


def resolve_model(spec: str) -> ModelInfo:
    """A registered name, or ``package.module:ClassName`` for a user's own class."""
    _load_builtin()
    if spec in _MODELS:
        return _MODELS[spec]
    if ":" in spec:
        mod_name, _, attr = spec.partition(":")
        try:
            obj = getattr(importlib.import_module(mod_name), attr)
        except (ImportError, AttributeError) as e:
            raise UnknownModelError(f"cannot load model class {spec!r}: {e}") from e
        kind = "semantic" if isinstance(obj, type) and issubclass(obj, SemanticSegmenter) else "promptable"
        return ModelInfo(spec, obj, getattr(obj, "__doc__", "") or "user model", kind=kind)
    raise UnknownModelError(f"unknown model {spec!r}; valid names: {', '.join(sorted(_MODELS))} (or module:Class)"
                            + missing_extra_hint())


def missing_extra_hint() -> str:
    """Why the SAM-family models may be absent from the registry: their packages are not installed."""
    import importlib.util

    missing = [m for m in ("torch", "segment_anything") if importlib.util.find_spec(m) is None]
    if not missing:
        return ""
    return (f". The SAM-family models (sam_vit_b, robustsam_vit_b, ...) need {' and '.join(missing)}: "
            "pip install -e '.[models]'")


def create_model(spec: str, checkpoint: str | None = None, device: str = "cpu",
                 **kwargs) -> PromptableSegmenter | SemanticSegmenter:
    """Build a model by registry name or ``module:Class``; ``checkpoint`` is a local file path. The model
    must implement its kind's contract (``KINDS``)."""
    info = resolve_model(spec)
    if checkpoint is not None:
        kwargs["checkpoint"] = checkpoint
    kwargs["device"] = device
    model = info.factory(**kwargs)
    contract = KINDS[info.kind]
    if not isinstance(model, contract):
        raise TypeError(f"{spec!r} built a {type(model).__name__}, which is not a {contract.__name__}")
    model.name = info.name + ("[random-weights]" if kwargs.get("random_weights") and checkpoint is None else "")
    return model
