"""Checkers for command-line values, usable as argparse ``type=`` callables (``arg(check)``) and by
library code: each returns the parsed value or raises UsageError saying what is wrong and what is valid,
so a misuse is one line with exit code 2 and never a traceback or a silently changed number."""
from __future__ import annotations

import argparse
import math
import re
from typing import Callable, TypeVar

from .errors import UsageError
from .paths import check_name

T = TypeVar("T")

#: names that become folder or config names (splits, partitions, datasets): no path separators, no dots
#: numpy's SeedSequence takes any non-negative int; torch.manual_seed needs < 2**64; we keep 32 bits
SEED_MAX = 2**32 - 1
MIN_SIDE, MAX_SIDE = 16, 8192


class OneLineParser(argparse.ArgumentParser):
    """argparse with a one-line error (what is wrong and what is valid) instead of a usage block;
    subcommand parsers inherit it."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} -h)\n")


def arg(check: Callable[[str], T]) -> Callable[[str], T]:
    """``check`` as an argparse type: its UsageError becomes argparse's one-line message."""

    def parse(text: str) -> T:
        try:
            return check(text)
        except UsageError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    parse.__name__ = getattr(check, "__name__", "value")
    return parse


def integer(lo: int, hi: int | None = None) -> Callable[[str], int]:
    """An integer in [lo, hi] (hi None: no upper bound)."""
    valid = f"an integer >= {lo}" if hi is None else f"an integer from {lo} to {hi}"

    def check(text: str) -> int:
        try:
            v = int(text)
        except (TypeError, ValueError):
            raise UsageError(f"must be {valid}, got {text!r}") from None
        if v < lo or (hi is not None and v > hi):
            raise UsageError(f"must be {valid}, got {v}")
        return v

    check.__name__ = "integer"
    return check


def positive_real(text: str) -> float:
    """A finite number > 0 (a learning rate)."""
    try:
        v = float(text)
    except ValueError:
        raise UsageError(f"must be a number > 0, got {text!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise UsageError(f"must be a finite number > 0, got {text!r}")
    return v


seed = integer(0, SEED_MAX)


def shard(text: str) -> tuple[int, int]:
    """``I/N``: this machine's share, 0 <= I < N."""
    i, sep, n = text.partition("/")
    if not (sep and i.isdigit() and n.isdigit() and 0 <= int(i) < int(n)):
        raise UsageError(f"must be I/N with 0 <= I < N (e.g. 0/1, or 3/4 for the last of four machines), got {text!r}")
    return int(i), int(n)


def image_size(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT``, each side from MIN_SIDE to MAX_SIDE pixels."""
    w, sep, h = text.lower().partition("x")
    if not (sep and w.isdigit() and h.isdigit() and all(MIN_SIDE <= int(v) <= MAX_SIDE for v in (w, h))):
        raise UsageError(f"must be WIDTHxHEIGHT with each side from {MIN_SIDE} to {MAX_SIDE}, e.g. 320x240; "
                         f"got {text!r}")
    return int(w), int(h)


def name(text: str) -> str:
    """A split, partition or dataset name: it becomes a folder or config name, so it must stay one."""
    return check_name(text, error=UsageError)


def name_list(text: str) -> list[str]:
    """A comma list of distinct names."""
    names = [name(t.strip()) for t in text.split(",")]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise UsageError(f"{', '.join(dup)} given twice in {text!r}; give each name once")
    return names


def partitions(text: str) -> tuple[tuple[str, float], ...]:
    """``name=fraction,...``: distinct names, fractions in (0, 1] summing to 1. A repeated name would
    give two partitions one folder, and one would overwrite the other's rows."""
    parts = []
    for item in text.split(","):
        key, sep, frac = item.strip().partition("=")
        try:
            f = float(frac)
        except ValueError:
            f = math.nan
        if not sep or not (0 < f <= 1):
            raise UsageError(f"{item!r}: each part must be NAME=FRACTION with 0 < FRACTION <= 1, "
                             f"e.g. train=0.8,val=0.1,test=0.1")
        parts.append((name(key.strip()), f))
    return check_partitions(tuple(parts))


def check_partitions(parts: tuple[tuple[str, float], ...]) -> tuple[tuple[str, float], ...]:
    """Refuse repeated names and fractions that do not sum to 1 (library callers of build get the same)."""
    names = [n for n, _ in parts]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise UsageError(f"partition {', '.join(dup)} given twice; give each name once")
    total = math.fsum(f for _, f in parts)
    if parts and abs(total - 1) > 1e-6:
        raise UsageError(f"partition fractions sum to {total:g}, not 1 ({', '.join(f'{n}={f:g}' for n, f in parts)})")
    return parts


_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")


def key_value(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` with the value read as a bool, int, float or else a string (``-`` in keys -> ``_``)."""
    key, sep, value = text.partition("=")
    if not sep or not _KEY.fullmatch(key):
        raise UsageError(f"must be KEY=VALUE with KEY a letter or '_' then letters, digits, '_' or '-'; got {text!r}")
    return key.replace("-", "_"), _auto(value)


def options(pairs: list[tuple[str, object]] | None) -> dict:
    """``key_value`` pairs as a dict; a key given twice is refused rather than silently overwritten."""
    out: dict = {}
    for key, value in pairs or []:
        if key in out:
            raise UsageError(f"option {key!r} given twice; give it once")
        out[key] = value
    return out


def _auto(v: str):
    if v.lower() in ("true", "false"):
        return v.lower() == "true"
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


def device(text: str) -> str:
    """``cpu``, ``auto`` (CUDA when present), ``cuda``/``cuda:N`` (only where CUDA is present) or ``mps``."""
    if text in ("cpu", "auto"):
        return text
    if re.fullmatch(r"cuda(:\d{1,2})?", text):
        import torch

        if not torch.cuda.is_available():
            raise UsageError(f"{text!r}: CUDA is not available on this machine (torch {torch.__version__}); "
                             "valid here: cpu, auto")
        index = int(text.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise UsageError(f"{text!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
        return text
    if text == "mps":
        import torch

        if not torch.backends.mps.is_available():
            raise UsageError("'mps': Apple MPS is not available on this machine; valid here: cpu, auto")
        return text
    raise UsageError(f"unknown device {text!r}; valid: cpu, auto, cuda, cuda:N, mps")


def image_file(text: str) -> str:
    """An output image path OpenCV can write: ``.png``, ``.jpg`` or ``.jpeg``."""
    if not text.lower().endswith((".png", ".jpg", ".jpeg")):
        raise UsageError(f"{text!r}: must end in .png, .jpg or .jpeg")
    return text


def profile(text: str) -> str:
    """A corruption profile name or comma list of ``name[:severity]``, checked against the registry."""
    import corruptions

    try:
        corruptions.parse_profile(text)
    except (corruptions.UnknownCorruptionError, corruptions.ProfileError) as e:
        raise UsageError(str(e)) from None
    return text


def model_checkpoints(items: list[str] | None) -> dict[str, str]:
    """``MODEL=PATH`` items (``reproduce --checkpoint``) as a dict; a model given twice is refused."""
    out: dict[str, str] = {}
    for item in items or []:
        model, sep, path = item.partition("=")
        if not (sep and model and path):
            raise UsageError(f"--checkpoint expects MODEL=PATH, got {item!r}")
        if model in out:
            raise UsageError(f"--checkpoint: model {model!r} given twice")
        out[model] = path
    return out
