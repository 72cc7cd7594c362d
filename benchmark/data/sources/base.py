"""Source contract and registry: a source is a random-access list of clear (or real-condition) Samples."""
from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass

from ..schema import Sample
from ...errors import UsageError, UserError


class Source(ABC):
    """Random access by index, so a build can be sharded over workers and machines."""

    name: str = ""
    #: True where the samples' conditions are real adverse conditions (night, rain, low light, ...), not
    #: clear images for the corruption profile: their datasets go on the real-degradation track
    real_conditions: bool = False
    license: str = "unknown"
    citation: str = ""
    homepage: str = ""

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def __getitem__(self, index: int) -> Sample: ...

    def params(self) -> dict:
        """What identifies this source's content in a build manifest (paths, options)."""
        return {}


@dataclass(frozen=True)
class SourceInfo:
    name: str
    cls: type
    description: str
    layout: str  # the on-disk layout it expects, for README and --help


_SOURCES: dict[str, SourceInfo] = {}


class UnknownSourceError(UserError, KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def register_source(name: str, *, description: str, layout: str = ""):
    def deco(cls):
        if name in _SOURCES:
            raise ValueError(f"source {name!r} registered twice")
        cls.name = name
        _SOURCES[name] = SourceInfo(name, cls, description, layout)
        return cls

    return deco


def _load_builtin() -> None:
    from . import catalog  # noqa: F401


def list_sources() -> list[SourceInfo]:
    _load_builtin()
    return sorted(_SOURCES.values(), key=lambda s: s.name)


def describe_sources() -> list[str]:
    """Per source, as ``robustseg sources`` lists it: name and description, the layout it expects, its
    licence, and where to get the data (its homepage) when the source names one."""
    out = []
    for s in list_sources():
        lines = [f"{s.name:20s} {s.description}", f"{'':20s} layout: {s.layout}",
                 f"{'':20s} licence: {s.cls.license}"]
        if s.cls.homepage:
            lines.append(f"{'':20s} get it: {s.cls.homepage}")
        out.append("\n".join(lines))
    return out


def source_info(name: str) -> SourceInfo | None:
    """The registration of source ``name``, or None where no such source is registered."""
    _load_builtin()
    return _SOURCES.get(name)


def create_source(name: str, **options) -> Source:
    """Build a source by name; options are the source class's keyword arguments (e.g. root=...)."""
    _load_builtin()
    if name not in _SOURCES:
        raise UnknownSourceError(f"unknown source {name!r}; valid names: {', '.join(sorted(_SOURCES))}")
    cls = _SOURCES[name].cls
    _check_options(name, inspect.signature(cls).parameters, options)
    return cls(**options)  # the checks may have turned number-like texts back into str


def _check_options(name: str, params, options: dict) -> None:
    """Refuse an option the source does not take, one it needs but did not get, and a value of another
    type than the option's default (``num_images=abc``), naming the valid options."""
    named = {n: p for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        bad = sorted(set(options) - set(named))
        if bad:
            raise UsageError(f"{name}: unknown option {', '.join(bad)}; valid options: {', '.join(sorted(named))}")
    missing = [n for n, p in named.items() if p.default is p.empty and n not in options]
    if missing:
        raise UsageError(f"{name}: needs {', '.join(missing)} (--root, or --source-option {missing[0]}=...)")
    for key, value in options.items():
        default = named[key].default if key in named else None
        want = type(default) if isinstance(default, (bool, int, float, str)) else None
        if want is str and isinstance(value, (int, float)) and not isinstance(value, bool):
            options[key] = value = str(value)  # a number-like text the command line read as a number
        exact = isinstance(value, want or object) and not (want is int and isinstance(value, bool))
        widened = want is float and isinstance(value, int) and not isinstance(value, bool)
        ok = want is None or value is None or exact or widened
        if not ok:
            raise UsageError(f"{name}: option {key} must be of type {want.__name__} (like its default {default!r}), "
                             f"got {value!r}")
