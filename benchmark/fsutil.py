"""Atomic writes, checksums and folder locks shared by long jobs (build, eval, leaderboard)."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from filelock import FileLock, Timeout


def os_error_reason(e: OSError) -> str:
    return os.strerror(e.errno) if e.errno else str(e)


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _umask_mode()  # what open() would give; mkstemp alone gives 0600


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then rename: readers never see half a file."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise OSError(f"cannot write in {path.parent}: {os_error_reason(e)}") from e
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise OSError(f"{path}: write failed ({os_error_reason(e)}); the previous version, if any, is intact") from e
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def dump_json(obj) -> str:
    """Canonical JSON (sorted keys, fixed indent): the same object gives the same bytes."""
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    atomic_write_text(path, dump_json(obj))


def temp_path_for(path: str | os.PathLike) -> Path:
    """A unique sibling temp path for writers that need a file name (e.g. pyarrow)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, _FILE_MODE)
    os.close(fd)
    return Path(tmp)


def remove_stale_temps(root: Path) -> int:
    """Delete temp files left by a killed writer (``.<name>.<random>.tmp``). Call only when no other
    process can be writing under ``root`` (e.g. once every chunk of a build is done)."""
    stale = [p for p in Path(root).rglob(".*.tmp") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return len(stale)


class FolderBusyError(RuntimeError):
    pass


def folder_lock(folder: Path, name: str = "lock") -> FileLock:
    """An exclusive, non-blocking lock on ``folder``; a second process gets FolderBusyError."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / f".{name}"), timeout=0)

    class _Guard:
        def __enter__(self):
            try:
                lock.acquire()
            except Timeout:
                raise FolderBusyError(f"{folder} is in use by another robustseg process (lock {lock.lock_file}); "
                                      "wait for it to finish or use another output folder") from None
            return self

        def __exit__(self, *exc):
            lock.release()

    return _Guard()
