"""Safe, atomic extraction of the RobustSAM release zips (``<split>/clear.zip``, ``<split>/masks.zip``).

A downloaded archive is untrusted input. Every member is checked before anything is written, and
the whole archive is refused if one member could land outside the target folder: an absolute
path or drive letter, a ``..`` component, a symlink or any other non-regular entry, or two
members with the same name. Members are written by this module (never ``ZipFile.extract``)
with default permissions, into a private temp folder next to the target that is renamed to the
target only when every member has been written and its CRC checked. A killed extraction thus
leaves a ``.<name>.partial-*`` folder, never a target that looks complete; the next run removes
partial folders of dead processes on this host and starts again.

Layout: ``unzip clear.zip`` in ``<split>/`` (RobustSAM's download.sh) gives ``<split>/clear/``, so
when every member lies under ``<name>/`` that prefix is stripped; otherwise members go into
``<split>/<name>/`` as they are. macOS ``__MACOSX/`` metadata entries are not extracted."""
from __future__ import annotations

import os
import re
import shutil
import socket
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from ...errors import UserError, WriteError

_DRIVE = re.compile(r"^[A-Za-z]:")
_CHUNK = 1 << 20


class ArchiveError(UserError, ValueError):
    """An archive that cannot be extracted; the message names the archive (and member)."""


class UnsafeArchiveError(ArchiveError):
    """A member that would be written outside the target folder, or is not a plain file or folder."""


def _member_path(info: zipfile.ZipInfo, archive: Path) -> PurePosixPath:
    """The member's relative path, or UnsafeArchiveError saying why it could escape."""
    name = info.filename
    def unsafe(reason: str) -> UnsafeArchiveError:
        return UnsafeArchiveError(f"{archive}: member {name!r} {reason}; refusing to extract this archive")
    norm = name.replace("\\", "/")
    if norm.startswith("/") or _DRIVE.match(norm):
        raise unsafe("has an absolute path")
    parts = [p for p in norm.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise unsafe("has a '..' component")
    kind = stat.S_IFMT(info.external_attr >> 16)  # Unix file type; 0 when the archiver recorded none
    if kind == stat.S_IFLNK:
        raise unsafe("is a symbolic link")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise unsafe(f"is not a regular file or folder (file type {oct(kind)})")
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def plan_members(zf: zipfile.ZipFile, archive: Path, name: str) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """(member, path inside the target folder) for every member to write; refuses unsafe archives."""
    members = []
    for info in zf.infolist():
        rel = _member_path(info, archive)
        if rel.parts and rel.parts[0] == "__MACOSX":
            continue
        members.append((info, rel))
    if members and all(rel.parts and rel.parts[0] == name for _, rel in members):
        members = [(info, PurePosixPath(*rel.parts[1:]) if len(rel.parts) > 1 else PurePosixPath("."))
                   for info, rel in members]
    seen: set = set()
    for info, rel in members:
        if not info.is_dir() and rel in seen:
            raise UnsafeArchiveError(f"{archive}: member {info.filename!r} appears twice; refusing to extract "
                                     "this archive")
        if not info.is_dir() and rel == PurePosixPath("."):
            raise UnsafeArchiveError(f"{archive}: member {info.filename!r} is a file in place of the target folder")
        seen.add(rel)
    return members


def _remove_dead_partials(parent: Path, name: str) -> None:
    """Partial folders left by killed extractions on this host (pid no longer running)."""
    prefix = f".{name}.partial-{socket.gethostname()}-"
    for p in parent.glob(f"{prefix}*"):
        pid = p.name[len(prefix):].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, archive: Path) -> None:
    try:
        if info.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
            return
        dest.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as src, open(dest, "xb") as out:
            shutil.copyfileobj(src, out, _CHUNK)
    except OSError as e:  # a full disk, or a member that is a file in one place and a folder in another
        raise WriteError(f"{archive}: cannot extract member {info.filename!r}: {e.strerror or e}") from None


def extract_zip(archive: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Extract ``archive`` into the folder ``target`` (which must not exist yet), atomically.

    Returns ``target``. If another process completes the same target first, its result is kept."""
    archive, target = Path(archive), Path(target)
    if target.exists():
        raise ArchiveError(f"{archive}: target {target} already exists; not extracting over it")
    parent = target.parent
    try:
        zf = zipfile.ZipFile(archive)
    except FileNotFoundError:
        raise ArchiveError(f"{archive}: file not found") from None
    except (zipfile.BadZipFile, OSError) as e:
        raise ArchiveError(f"{archive}: not a readable zip archive ({e})") from None
    with zf:
        members = plan_members(zf, archive, target.name)
        need = sum(info.file_size for info, _ in members)
        free = shutil.disk_usage(parent).free
        if need > free:
            raise WriteError(f"{archive}: extracting needs {need} bytes but {parent} has {free} free")
        _remove_dead_partials(parent, target.name)
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-{socket.gethostname()}-{os.getpid()}-",
                                        dir=parent))
        except OSError as e:
            raise WriteError(f"{archive}: cannot extract into {parent}: {e.strerror or e}") from None
        try:
            for info, rel in members:
                _write_member(zf, info, tmp / rel, archive)
            os.chmod(tmp, 0o755)  # mkdtemp makes it private; the target is an ordinary data folder
            try:
                os.rename(tmp, target)
            except OSError:
                if not target.is_dir():
                    raise
                shutil.rmtree(tmp, ignore_errors=True)  # another process finished first
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError) as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ArchiveError(f"{archive}: corrupt, encrypted or unsupported member: {e}") from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


def ensure_extracted(folder: Path, names: tuple[str, ...]) -> list[Path]:
    """For each name, extract ``folder/<name>.zip`` into ``folder/<name>/`` unless that folder exists.
    Returns the archives extracted now."""
    done = []
    for name in names:
        archive = folder / f"{name}.zip"
        if not (folder / name).is_dir() and archive.is_file():
            extract_zip(archive, folder / name)
            done.append(archive)
    return done
