"""Options written as text (command-line values, config files): ``key=value`` lists, ``i/N`` shards,
``name=fraction`` partitions, ``WxH`` sizes. One parser each, so the CLI and a user's script read the same
text the same way."""
from __future__ import annotations

from typing import Any, Optional, Sequence


def parse_value(v: str) -> Any:
    """``true``/``false`` -> bool, then int, then float, else the string."""
    if v.lower() in ("true", "false"):
        return v.lower() == "true"
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


def parse_key_values(items: Optional[Sequence[str]]) -> dict:
    """``["num-images=8", "seed=1"]`` -> ``{"num_images": 8, "seed": 1}`` (dashes become underscores)."""
    out = {}
    for item in items or []:
        k, sep, v = item.partition("=")
        if not sep:
            raise ValueError(f"expected key=value, got {item!r}")
        out[k.replace("-", "_")] = parse_value(v)
    return out


def parse_pairs(items: Optional[Sequence[str]], what: str, *, optional_value: bool = False) -> dict:
    """``["NAME=VALUE", ...]`` -> ``{NAME: VALUE}`` as strings; with ``optional_value`` a bare ``NAME``
    maps to None. ``what`` names the option in the error (e.g. ``--checkpoint expects MODEL=PATH``)."""
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep and not optional_value:
            raise ValueError(f"{what}, got {item!r}")
        out[name] = value if sep else None
    return out


def parse_shard(s: str) -> tuple[int, int]:
    """``"i/N"`` -> ``(i, N)``: this machine's share of the work."""
    i, _, n = s.partition("/")
    return int(i), int(n)


def parse_partitions(s: Optional[str]) -> tuple:
    """``"train=0.8,val=0.2"`` -> ``(("train", 0.8), ("val", 0.2))``; empty -> ``()``."""
    if not s:
        return ()
    return tuple((name, float(f)) for name, f in (p.split("=") for p in s.split(",")))


def parse_size(s: str) -> tuple[int, int]:
    """``"WIDTHxHEIGHT"`` -> ``(width, height)``."""
    w, _, h = s.partition("x")
    return int(w), int(h)


def parse_list(s: Optional[str]) -> Optional[list[str]]:
    """``"a,b"`` -> ``["a", "b"]``; empty or None -> None (meaning all)."""
    return s.split(",") if s else None
