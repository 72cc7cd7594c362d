"""The one job folder that build, eval and train share: a lock, the job's identity (refusing a folder
that holds another job), done-markers, atomic json/text/parquet writes and manifest reads.

Every long job writes its outputs through here, so a killed job leaves either the previous version of a
file or the new one, never half of one, and a rerun of the same job resumes where it stopped."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import tempfile
import threading
from pathlib import Path
from typing import Iterator, Optional

from filelock import FileLock, Timeout

from .errors import IntegrityError, MissingInputError, UnreachableError, UnsafePathError, UserError, WriteError
from .paths import check_name, file_problem, inside

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


_SHA256 = re.compile(r"[0-9a-f]{64}")


#: what a dataset's manifest must hold (a results manifest needs only ``files``)
DATASET_MANIFEST = ("build", "files", "splits")


def load_manifest(folder: str | os.PathLike, required: tuple[str, ...] = ("files",)) -> dict:
    """The manifest of a complete build or evaluation, its file table checked: every listed path is
    a relative path of valid names that stays inside ``folder``, with a sha256 and a row count. A
    manifest is data from whoever made the folder, so nothing in it is used unchecked. ``required``:
    the objects it must hold (a dataset's: build, files, splits)."""
    path = Path(folder) / "manifest.json"
    if not path.exists():
        raise MissingInputError(f"{folder} has no manifest.json: not a robustseg dataset or results folder, or "
                                "its job is incomplete (rerun the same command to finish it)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise IntegrityError(f"{path}: not a robustseg manifest (unreadable json: {e})") from None
    if not (isinstance(manifest, dict) and all(isinstance(manifest.get(k), dict) for k in required)):
        raise IntegrityError(f"{path}: not a robustseg manifest (needs {'/'.join(required)} objects; "
                             "'files' maps each file to its sha256 and rows)")
    files = manifest["files"]
    for rel, meta in files.items():
        inside(folder, rel, str(path))
        if not (isinstance(meta, dict) and isinstance(meta.get("sha256"), str) and _SHA256.fullmatch(meta["sha256"])
                and _is_count(meta.get("rows"))):
            raise IntegrityError(f"{path}: entry {rel!r} needs 'sha256' (64 lowercase hex digits) and 'rows' "
                                 f"(an integer >= 0), got {meta!r:.200}")
        if "split" in meta:
            check_name(meta["split"], f"{path}: entry {rel!r} split")
    return manifest


def _is_count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def read_verified_parquet(root: str | os.PathLike, rel: str, meta: dict, schema, where: str):
    """The table of ``root/rel`` after checking it against its manifest entry ``meta``: inside
    ``root``, a regular file, the recorded sha256 (of the very bytes that are parsed, so a file
    swapped after the check is never read), exactly ``schema``'s columns and the recorded row count.
    ``where`` names the manifest in errors."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = inside(root, rel, where)
    if not path.exists():
        raise IntegrityError(f"{path}: listed in {where} but missing")
    if problem := file_problem(path):
        raise UnsafePathError(f"{path}: {problem}")
    # Read into memory Arrow owns, not a Python bytes object: Arrow's reader threads may drop the last
    # reference to the buffer after the call returns, and releasing a Python object there needs the GIL,
    # which at interpreter exit (just after Ctrl-C or SIGTERM) ends the thread inside a C++ destructor:
    # the process then aborts (SIGABRT) instead of exiting with its code.
    with pa.OSFile(str(path)) as f:
        data = f.read_buffer()
    if hashlib.sha256(memoryview(data)).hexdigest() != meta["sha256"]:
        raise IntegrityError(f"{path}: sha256 differs from {where} (file changed or corrupt)")
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as e:
        raise IntegrityError(f"{path}: not a readable parquet file ({e})") from None
    if not table.schema.equals(schema, check_metadata=False):
        got, want = set(table.schema.names), set(schema.names)
        diff = (f"missing {sorted(want - got)}, unexpected {sorted(got - want)}" if got != want
                else "column types differ")
        raise IntegrityError(f"{path}: columns do not match the schema ({diff})")
    if table.num_rows != meta["rows"]:
        raise IntegrityError(f"{path}: {table.num_rows} rows but {where} lists {meta['rows']}")
    return table


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
