"""Names and paths taken from data or arguments, confined to the folder they belong to.

A dataset folder, a results folder, an annotation json or a ``--split`` argument may come from
anyone; each name in them that becomes part of a path is checked against ONE pattern, and each
path is resolved (symlinks followed) and must stay inside its root. See docs/security.md."""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from .errors import UnsafePathError

#: a single path component: starts with a letter or digit (so never ``.``, ``..`` or hidden), no
#: separator, no whitespace or shell/control characters; brackets, ``=``, ``,``, ``:`` and ``+``
#: allow model names such as ``sam_vit_b[config=tiny]`` and ``mypkg.mod:Model``
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=,:\[\]-]{0,127}")
NAME_RULE = "1-128 characters: letters, digits and . _ - + = , : [ ], starting with a letter or digit"


def check_name(name, what: str = "", error: type[Exception] = UnsafePathError) -> str:
    """``name`` if it is a valid single path component (split, config, dataset, model name), else
    ``error`` saying what ``what`` is and which names are valid. The one name check for data and
    arguments alike: data raise UnsafePathError, arguments pass UsageError (exit code 2)."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise error(f"{what + ' ' if what else ''}{name!r} is not a valid name ({NAME_RULE})")
    return name


def inside(root: str | os.PathLike, rel, what: str) -> Path:
    """``root / rel`` for a relative POSIX path from data whose every part is a valid name and
    which, with symlinks resolved, stays inside ``root``. The returned path is the resolved one."""
    root = Path(root).resolve()
    if not isinstance(rel, str) or not rel:
        raise UnsafePathError(f"{what}: path {rel!r} is not a relative path")
    for part in rel.split("/"):
        check_name(part, f"{what}: path {rel!r} component")
    path = (root / rel).resolve()
    if not path.is_relative_to(root):
        raise UnsafePathError(f"{what}: {rel!r} resolves to {path}, outside {root} (a symlink?)")
    return path


def file_problem(path: str | os.PathLike, root: str | os.PathLike | None = None) -> str:
    """Why ``path`` must not be read as a data file ("" if it may): it resolves outside ``root``
    (a symlink leaving the dataset folder), or it is not a regular file (device, FIFO, socket,
    folder), which could hang or read unbounded data. A missing file is left to the reader."""
    path = Path(path)
    real = path.resolve()
    if root is not None and not real.is_relative_to(Path(root).resolve()):
        return f"resolves to {real}, outside the dataset folder {Path(root).resolve()} (symlink); not read"
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        return ""
    except OSError as e:
        return f"cannot stat: {e.strerror or e}"
    if stat.S_ISREG(mode):
        return ""
    kind = {stat.S_ISDIR: "a directory", stat.S_ISFIFO: "a FIFO", stat.S_ISSOCK: "a socket",
            stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device"}
    return "is " + next((v for k, v in kind.items() if k(mode)), "not a regular file") + ", not a regular file; not read"
