"""Model registry: by decorator, by ``robustseg.models`` entry points, or by ``module:Class``."""
from __future__ import annotations

import importlib
import importlib.metadata
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .contract import ModelArgumentError, PromptableSegmenter
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
        if len(self.checkpoint_files) > 1:
            files += f" (one --checkpoint, the {len(self.checkpoint_files)} paths joined by '{CHECKPOINT_SEPARATOR}')"
        return f"expects {files}" if self.public_weights else f"no public weights published (loads {files} if you have one)"


#: joins the files of a model that loads several (a restoration network and SAM): ``--checkpoint A.pth,B.pth``
CHECKPOINT_SEPARATOR = ","

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
            module = importlib.import_module(mod_name)
        except ModuleNotFoundError as e:
            if e.name and mod_name.startswith(e.name) and (mod_name == e.name or mod_name[len(e.name)] == "."):
                raise UnknownModelError(
                    f"cannot load model class {spec!r}: module {e.name!r} is not on the import path; install your "
                    "package (pip install -e .) or run from the folder that holds it (or add it to PYTHONPATH)") from e
            raise UnknownModelError(f"cannot load model class {spec!r}: {e}") from e
        except ImportError as e:
            raise UnknownModelError(f"cannot load model class {spec!r}: {e}") from e
        if not hasattr(module, attr):
            raise UnknownModelError(f"cannot load model class {spec!r}: module {mod_name!r} has no {attr!r}")
        obj = getattr(module, attr)
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


def model_display_name(spec: str, options: Mapping[str, Any] | None = None) -> str:
    """The name results and leaderboards carry: the spec, plus ``[k=v,...]`` (sorted) when the model was built
    with non-default options, so a non-default configuration never passes for the model's default one."""
    if not options:
        return spec
    return f"{spec}[{','.join(f'{k}={v}' for k, v in sorted(options.items()))}]"


def describe_models(verbose: bool = False) -> list[str]:
    """The model list ``robustseg models`` prints: name, description and weights status (and, with
    ``verbose``, what was verified), then why the SAM families are missing when their packages are."""
    lines = []
    for m in list_models():
        lines.append(f"{m.name:24s} {m.description}\n{'':24s} weights: {m.weights_status}")
        if verbose and m.verified:
            lines.append(f"{'':24s} verified: {m.verified}")
    if hint := missing_extra_hint():
        lines.append(hint.lstrip(". "))
    return lines


def split_checkpoint(name: str, files: tuple[str, ...], checkpoint: str) -> tuple[str, ...]:
    """The paths in ``checkpoint`` for a model whose release is ``files``: the path itself for one file; for
    several (a restoration network then SAM), that many non-empty paths joined by CHECKPOINT_SEPARATOR. Why
    one string: every command and record (``--checkpoint``, ``reproduce --checkpoint MODEL=PATH``, the
    results' identity) carries one checkpoint per model."""
    if len(files) <= 1:
        return (checkpoint,)
    parts = tuple(p.strip() for p in str(checkpoint).split(CHECKPOINT_SEPARATOR))
    if len(parts) != len(files) or not all(parts):
        raise ModelArgumentError(f"model {name!r} loads {len(files)} checkpoint files: give them as one --checkpoint "
                                 f"joined by '{CHECKPOINT_SEPARATOR}' in this order: "
                                 f"{CHECKPOINT_SEPARATOR.join(files)}; got {checkpoint!r}")
    return parts


def needs_weights(spec: str) -> bool:
    """True for a model with learned weights (the SAM family): without a checkpoint it is random init."""
    return bool(resolve_model(spec).checkpoint_files)


def check_model_arguments(spec: str, checkpoint: str | None = None, options: Mapping[str, Any] | None = None,
                          random_weights: bool = False) -> ModelInfo:
    """Refuse, before anything is built, a ``checkpoint`` or option ``spec``'s factory does not take, and
    a model with learned weights without a checkpoint unless ``random_weights`` says that is intended."""
    info = resolve_model(spec)
    params = _factory_parameters(info.factory)
    if params is not None:
        valid = sorted(params - {"checkpoint", "device"})
        if checkpoint is not None and "checkpoint" not in params:
            raise ModelArgumentError(f"model {spec!r} is weight-free and takes no --checkpoint")
        bad = sorted(set(options or {}) - params - {"device", "checkpoint"})
        if bad:
            raise ModelArgumentError(f"model {spec!r} takes no option {', '.join(bad)}; its options: "
                                     f"{', '.join(valid) or 'none'}")
    _check_option_types(spec, info.factory, options or {})
    if checkpoint is not None:
        split_checkpoint(spec, info.checkpoint_files, checkpoint)
    if info.checkpoint_files and checkpoint is None and not random_weights:
        raise ModelArgumentError(f"model {spec!r} has learned weights: give --checkpoint "
                                 f"({CHECKPOINT_SEPARATOR.join(info.checkpoint_files)}), or pass --random-weights "
                                 "to run it on random init (results are labelled random weights)")
    return info


def _check_option_types(spec: str, factory, options: Mapping[str, Any]) -> None:
    """Refuse an option value of another type than the option's default (``iterations=nan`` where the
    default is 5, ``min_box_fraction=abc``), and a non-finite float, naming the option: the command line
    reads numbers as numbers, and a model must not run on a value of the wrong kind. A number given to a
    text option is left to the model's own check (``config=1``: unknown config); ranges are the model's."""
    import inspect
    import math

    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return
    for key, value in options.items():
        p = params.get(key)
        default = None if p is None or p.default is p.empty else p.default
        if value is None or isinstance(default, str) or not isinstance(default, (bool, int, float)):
            continue
        want = type(default)
        ok = isinstance(value, want) and not (want is int and isinstance(value, bool))
        ok = ok or (want is float and isinstance(value, int) and not isinstance(value, bool))
        if ok and isinstance(value, float) and not math.isfinite(value):
            ok = False
        if not ok:
            kind = "a finite float" if want is float else f"an {want.__name__}" if want is int else "a bool"
            raise ModelArgumentError(f"model {spec!r}: option {key} must be {kind} (like its default {default!r}), "
                                     f"got {value!r}")


def _factory_parameters(factory) -> set[str] | None:
    """Keyword names ``factory`` accepts, or None where it takes ``**kwargs`` (anything goes)."""
    import inspect

    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):  # a builtin or C callable without a signature: cannot tell
        return None
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return None
    return {n for n, p in sig.parameters.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def create_model(spec: str, checkpoint: str | None = None, device: str = "cpu", **kwargs) -> PromptableSegmenter:
    """Build a model by registry name or ``module:Class``; ``checkpoint`` is a local file path. A model
    with learned weights built without a checkpoint is marked ``random_weights`` (results say so)."""
    info = resolve_model(spec)
    check_model_arguments(spec, checkpoint, kwargs, random_weights=True)
    if checkpoint is not None:
        kwargs["checkpoint"] = checkpoint
    kwargs["device"] = device
    model = info.factory(**kwargs)
    contract = KINDS[info.kind]
    if not isinstance(model, contract):
        raise TypeError(f"{spec!r} built a {type(model).__name__}, which is not a {contract.__name__}")
    model.random_weights = checkpoint is None and bool(info.checkpoint_files)
    model.name = info.name
    return model


def create_named_model(spec: str, checkpoint: str | None = None, device: str = "cpu", **options) -> PromptableSegmenter:
    """``create_model`` whose name carries the non-default ``options`` (``model_display_name``), the name
    results and leaderboards file it under, so a configuration never passes for the model's default one."""
    model = create_model(spec, checkpoint=checkpoint, device=device, **options)
    model.name = model_display_name(model.name, options)
    return model
