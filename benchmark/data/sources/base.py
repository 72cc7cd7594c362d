"""Source contract and registry: a source is a random-access list of clear (or real-condition) Samples."""
from __future__ import annotations

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


def source_info(name: str) -> SourceInfo | None:
    """The registration of source ``name``, or None where no such source is registered."""
    _load_builtin()
    return _SOURCES.get(name)


def create_source(name: str, **options) -> Source:
    """Build a source by name; options are the source class's keyword arguments (e.g. root=...)."""
    _load_builtin()
    if name not in _SOURCES:
        raise UnknownSourceError(f"unknown source {name!r}; valid names: {', '.join(sorted(_SOURCES))}")
    try:
        return _SOURCES[name].cls(**options)
    except TypeError as e:
        raise UsageError(f"source {name!r}: bad options {sorted(options)}: {e}") from e
