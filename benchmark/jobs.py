"""The one job folder that build, eval and train share: a lock, the job's identity (refusing a folder
that holds another job), done-markers, atomic json/text/parquet writes and manifest reads.

Every long job writes its outputs through here, so a killed job leaves either the previous version of a
file or the new one, never half of one, and a rerun of the same job resumes where it stopped."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import tempfile
import threading
from pathlib import Path
from typing import Iterator, Optional

from filelock import FileLock, Timeout

from .errors import BadInputError, MissingInputError, UnreachableError, UserError, WriteError

#: a job's private state (identity, done-markers, locks) inside its output folder; not part of the output
STATE_DIR = ".robustseg"


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
        raise WriteError(f"cannot write in {path.parent}: {os_error_reason(e)}") from e
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise WriteError(f"{path}: write failed ({os_error_reason(e)}); the previous version, if any, is intact") from e
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


class FolderBusyError(UserError, RuntimeError):
    pass


@contextlib.contextmanager
def folder_lock(folder: Path, name: str = "lock") -> Iterator[None]:
    """An exclusive, non-blocking lock on ``folder`` for the ``with`` block; a second process gets
    FolderBusyError."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / f".{name}"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise FolderBusyError(f"{folder} is in use by another robustseg process (lock {lock.lock_file}); "
                              "wait for it to finish or use another output folder") from None
    try:
        yield
    finally:
        lock.release()


def write_parquet_atomic(path: Path, table, **kwargs) -> None:
    """Write a pyarrow ``table`` to a temp file beside ``path``, then rename; on any failure (full disk,
    read-only folder, kill) no file appears under ``path`` and the temp file is removed."""
    import pyarrow.parquet as pq

    try:
        tmp = temp_path_for(path)
    except OSError as e:
        raise WriteError(f"cannot write in {path.parent}: {os_error_reason(e)}") from e
    try:
        pq.write_table(table, tmp, **kwargs)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise WriteError(f"{path}: write failed ({os_error_reason(e)}); nothing was published for it") from e
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class JobConflictError(UserError, RuntimeError):
    """The output folder holds another job's state (a different build, evaluation or training run)."""


def check_identity(id_file: Path, identity: dict, *, holds: str, error: type[JobConflictError] = JobConflictError,
                   key: Optional[str] = None) -> bool:
    """Compare a job's identity with the one recorded in ``id_file`` (under ``key`` if given). True if the
    folder holds this same job, False if it holds none yet; a different job raises ``error`` naming the
    fields that differ, so the user sees why the folder was refused."""
    old = read_state(id_file)
    old = old.get(key) if key and old is not None else old
    if not isinstance(old, dict):  # absent, or an empty or corrupt file: no job recorded yet
        return False
    if old != identity:
        diff = sorted(k for k in set(old) | set(identity) if old.get(k) != identity.get(k))
        raise error(f"{id_file.parent.parent if id_file.parent.name == STATE_DIR else id_file.parent} holds "
                    f"{holds} (differs in: {', '.join(diff)}); use another output folder")
    return True


def done_marker(folder: Path, name: str) -> Path:
    """Where a job records one finished work unit (with its files' sha256) inside its state folder."""
    return folder / STATE_DIR / "done" / name


def read_state(path: Path) -> Optional[dict]:
    """A state file's json object, or None where it is absent, empty, not json or not an object: a file
    cut short by a crash or a full disk, or edited by hand, counts as never written, so the work it
    recorded is redone rather than trusted or crashed on."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):  # missing, unreadable, or not json (UnicodeDecodeError is a ValueError)
        return None
    return data if isinstance(data, dict) else None


def read_marker(path: Path) -> Optional[dict]:
    """A done-marker's content, or None where it is absent or unreadable (the unit is then redone)."""
    return read_state(path)


def load_manifest(dataset_dir: str | os.PathLike) -> dict:
    """The manifest of a complete build; a clear error for an incomplete or foreign folder."""
    path = Path(dataset_dir) / "manifest.json"
    if not path.exists():
        raise MissingInputError(f"{dataset_dir} has no manifest.json: not a robustseg dataset, or its build is "
                                "incomplete (rerun the same build command to finish it)")
    manifest = read_state(path)
    if manifest is None or not all(isinstance(manifest.get(k), dict) for k in ("build", "files", "splits")):
        raise BadInputError(f"{path}: not a robustseg manifest (unreadable json, or no build/files/splits objects)")
    return manifest


class IncompleteResultsError(UserError, RuntimeError):
    """An evaluation folder lacks verified results for some dataset files (no results manifest yet)."""


def ignore_sigint() -> None:
    """Pool-worker initializer: Ctrl-C reaches the whole process group, but only the parent should act
    on it (it stops the pool); workers printing their own KeyboardInterrupt tracebacks would bury the
    one line that says how to resume."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class JobInterrupted(KeyboardInterrupt):
    """SIGTERM (or SIGINT) turned into an exception, so a job unwinds as on Ctrl-C: temp files are
    removed, locks released, and every unit already written stays verified for the rerun."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def interrupts_unwind():
    """Within the block, SIGTERM raises JobInterrupted in the main thread (Ctrl-C already raises
    KeyboardInterrupt). Outside the main thread signals cannot be handled, so nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_interrupt(signum, frame):
        raise JobInterrupted(signum)

    old = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def check_reachable(address: str, what: str, timeout: float = 10.0) -> None:
    """Fail within ``timeout`` seconds, with one line, where nothing accepts a connection at ``address``
    (``host:port``, optionally ``scheme://``): clients such as Ray's retry a dead address for minutes."""
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = url.hostname, url.port or {"https": 443, "http": 80}.get(url.scheme)
    except ValueError:
        host, port = None, None
    if not host or port is None:
        raise UnreachableError(f"{what}: {address!r} is not HOST:PORT")
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        raise UnreachableError(f"{what}: nothing answers at {address} ({e.strerror or type(e).__name__}); "
                               "is it running, and is the address right?") from None
