"""Registry of named corruptions and the seeding rule every corruption follows.

A corruption is a pure function ``fn(image, masks, severity, rng) -> (image, masks)`` on a uint8
HxWx3 RGB image and a bool (N, H, W) mask stack. Photometric corruptions return the masks
unchanged; geometric ones warp them with the same field as the image so they stay aligned.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

CorruptionFn = Callable[[np.ndarray, np.ndarray, int, np.random.Generator], tuple]


@dataclass(frozen=True)
class Corruption:
    family: str  # "robustsam" or "imagecorruptions"
    name: str  # condition name written to datasets, e.g. "snow", "ISO_noise"
    fn: CorruptionFn
    severities: tuple[int, ...]  # (0,) where severity does not apply
    description: str
    geometric: bool = False

    @property
    def key(self) -> str:
        return f"{self.family}/{self.name}"


_REGISTRY: dict[str, Corruption] = {}


class UnknownCorruptionError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


def register_corruption(family: str, name: str, *, severities=(0,), description: str, geometric: bool = False):
    """Decorator: register ``fn`` under ``family/name``."""

    def deco(fn: CorruptionFn) -> CorruptionFn:
        c = Corruption(family, name, fn, tuple(severities), description, geometric)
        if c.key in _REGISTRY:
            raise ValueError(f"corruption {c.key!r} registered twice")
        _REGISTRY[c.key] = c
        return fn

    return deco


def list_corruptions(family: Optional[str] = None) -> list[Corruption]:
    _load_builtin()
    return [c for c in _REGISTRY.values() if family is None or c.family == family]


def describe_corruptions(family: Optional[str] = None) -> list[str]:
    """One line per corruption (key, severities, geometric or not, description), as ``robustseg corruptions``
    lists them."""
    return [f"{c.key:36s} severities {','.join(map(str, c.severities)):10s} {'geometric ' if c.geometric else ''}"
            f"{c.description}" for c in list_corruptions(family)]


def get_corruption(name: str) -> Corruption:
    """Look up ``family/name``, or a bare ``name`` when exactly one family has it."""
    _load_builtin()
    if name in _REGISTRY:
        return _REGISTRY[name]
    matches = [c for c in _REGISTRY.values() if c.name == name]
    if len(matches) == 1:
        return matches[0]
    valid = ", ".join(sorted(_REGISTRY))
    if matches:
        raise UnknownCorruptionError(
            f"corruption name {name!r} is ambiguous; use one of: {', '.join(sorted(c.key for c in matches))}"
        )
    raise UnknownCorruptionError(f"unknown corruption {name!r}; valid names: {valid}")


def _stable_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def corruption_rng(seed: int, image_id: str, corruption_key: str, severity: int) -> np.random.Generator:
    """The only source of randomness for a corruption: a generator derived from
    (seed, image_id, corruption, severity), so a rebuild anywhere gives the same bytes."""
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF, _stable_int(image_id), _stable_int(corruption_key), int(severity)])
    return np.random.default_rng(ss)


def _load_builtin() -> None:
    # Importing the op modules registers them; done lazily to keep imports cheap.
    from . import ops  # noqa: F401
