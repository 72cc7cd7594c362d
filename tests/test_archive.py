"""Release zips: nothing is ever written outside the target folder, a killed extraction never looks
complete, and the RobustSAM reader unpacks its published clear.zip / masks.zip only when asked."""
import json
import os
import stat
import subprocess
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from benchmark.data.sources import create_source
from benchmark.data.sources import archive as archive_mod
from benchmark.data.sources.archive import ArchiveError, UnsafeArchiveError, extract_zip

from .conftest import REPO, run_cli


def _zip(path: Path, members: list) -> Path:
    """members: (name, bytes) or (ZipInfo, bytes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns on duplicate names, which one test needs
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in members:
                zf.writestr(name, data)
    return path


def _tree(root: Path) -> set:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def _symlink_member(name: str, target: str) -> tuple:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


def test_release_layout_is_extracted_with_its_folder_prefix_stripped(tmp_path):
    files = {f"clear/sa_{i}.jpg": os.urandom(100 + i) for i in range(3)}
    z = _zip(tmp_path / "clear.zip", [("clear/", b"")] + list(files.items()) + [("__MACOSX/clear/._sa_0.jpg", b"x")])
    assert extract_zip(z, tmp_path / "clear") == tmp_path / "clear"
    assert _tree(tmp_path / "clear") == {"sa_0.jpg", "sa_1.jpg", "sa_2.jpg"}
    assert all((tmp_path / name).read_bytes() == data for name, data in files.items())
    assert _tree(tmp_path) == {"clear.zip", "clear", "clear/sa_0.jpg", "clear/sa_1.jpg", "clear/sa_2.jpg"}
    z2 = _zip(tmp_path / "masks.zip", [("a.npy", b"1"), ("sub/b.npy", b"2")])  # no common prefix: kept as is
    extract_zip(z2, tmp_path / "masks")
    assert _tree(tmp_path / "masks") == {"a.npy", "sub", "sub/b.npy"}
    with pytest.raises(ArchiveError, match="already exists"):
        extract_zip(z2, tmp_path / "masks")


UNSAFE = [
    ("../evil.jpg", "'..' component"),
    ("clear/../../evil.jpg", "'..' component"),
    ("clear/..\\..\\evil.jpg", "'..' component"),
    ("/tmp/evil.jpg", "absolute path"),
    ("C:/evil.jpg", "absolute path"),
    ("C:\\evil.jpg", "absolute path"),
]


@pytest.mark.parametrize("name, reason", UNSAFE)
def test_members_that_escape_refuse_the_whole_archive(tmp_path, name, reason):
    (tmp_path / "split").mkdir()
    z = _zip(tmp_path / "split/clear.zip", [("clear/ok.jpg", b"fine"), (name, b"evil")])
    before = _tree(tmp_path)
    with pytest.raises(UnsafeArchiveError, match=rf"clear.zip: member .*evil.jpg.* {reason}; refusing"):
        extract_zip(z, tmp_path / "split/clear")
    assert _tree(tmp_path) == before  # not even the safe member, no partial folder


@pytest.mark.parametrize("member, reason", [
    (_symlink_member("clear/link.jpg", "/etc/passwd"), "symbolic link"),
    (_symlink_member("clear/dir", ".."), "symbolic link"),
])
def test_symlinks_and_special_files_are_refused(tmp_path, member, reason):
    z = _zip(tmp_path / "clear.zip", [("clear/ok.jpg", b"fine"), member])
    with pytest.raises(UnsafeArchiveError, match=reason):
        extract_zip(z, tmp_path / "clear")
    fifo = zipfile.ZipInfo("clear/fifo")
    fifo.external_attr = (stat.S_IFIFO | 0o644) << 16
    z = _zip(tmp_path / "fifo.zip", [(fifo, b"")])
    with pytest.raises(UnsafeArchiveError, match="not a regular file or folder"):
        extract_zip(z, tmp_path / "clear")
    z = _zip(tmp_path / "dup.zip", [("clear/a.jpg", b"1"), ("clear/a.jpg", b"2")])
    with pytest.raises(UnsafeArchiveError, match="appears twice"):
        extract_zip(z, tmp_path / "clear")
    assert _tree(tmp_path) == {"clear.zip", "fifo.zip", "dup.zip"}


PART = st.sampled_from(["a", "b.jpg", "..", ".", "", "clear", "C:", "\\", "..\\x", "/"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(names=st.lists(st.lists(PART, min_size=1, max_size=4).map("/".join), min_size=1, max_size=4))
def test_property_nothing_is_ever_written_outside_the_target(names):
    """Random member names: either the archive is refused and nothing is written, or every file
    lands inside the target folder."""
    with tempfile.TemporaryDirectory() as d:
        base = Path(d) / "split"
        base.mkdir()
        members = [(n, f"data{k}".encode()) for k, n in enumerate(names) if n and not n.endswith("/")]
        if not members:
            return
        z = _zip(Path(d) / "in.zip", members)
        try:
            extract_zip(z, base / "clear")
        except ArchiveError:
            assert _tree(Path(d)) == {"in.zip", "split"}
            return
        except OSError:  # a member that is a file in one place and a folder in another
            assert _tree(Path(d)) == {"in.zip", "split"}
            return
        outside = {p for p in _tree(Path(d)) if not (p == "in.zip" or p.startswith("split/clear") or p == "split")}
        assert outside == set()
        assert not any(p.is_symlink() for p in base.rglob("*"))


def test_corrupt_truncated_and_non_zip_archives_name_the_file(tmp_path):
    z = _zip(tmp_path / "clear.zip", [("clear/a.jpg", os.urandom(5000))])
    raw = bytearray(z.read_bytes())
    raw[200] ^= 0xFF  # inside the stored member's data: CRC mismatch
    (tmp_path / "crc.zip").write_bytes(bytes(raw))
    with pytest.raises(ArchiveError, match=r"crc.zip: corrupt, encrypted or unsupported member: Bad CRC"):
        extract_zip(tmp_path / "crc.zip", tmp_path / "clear")
    (tmp_path / "cut.zip").write_bytes(z.read_bytes()[:3000])
    with pytest.raises(ArchiveError, match="cut.zip: not a readable zip archive"):
        extract_zip(tmp_path / "cut.zip", tmp_path / "clear")
    (tmp_path / "page.zip").write_text("<!DOCTYPE html><title>404</title>")
    with pytest.raises(ArchiveError, match="page.zip: not a readable zip archive"):
        extract_zip(tmp_path / "page.zip", tmp_path / "clear")
    assert _tree(tmp_path) == {"clear.zip", "crc.zip", "cut.zip", "page.zip"}


def test_not_enough_space_is_refused_before_writing(tmp_path, monkeypatch):
    z = _zip(tmp_path / "clear.zip", [("clear/a.jpg", b"x" * 10_000)])
    monkeypatch.setattr(archive_mod.shutil, "disk_usage", lambda p: type("U", (), {"free": 100})())
    with pytest.raises(OSError, match=r"clear.zip: extracting needs 10000 bytes but .* has 100 free"):
        extract_zip(z, tmp_path / "clear")
    assert not (tmp_path / "clear").exists()


def test_another_process_finishing_first_is_kept(tmp_path, monkeypatch):
    z = _zip(tmp_path / "clear.zip", [("clear/a.jpg", b"same")])
    real_rename = os.rename

    def racing_rename(src, dst):
        Path(dst).mkdir()
        (Path(dst) / "a.jpg").write_bytes(b"same")  # the other process's complete result
        real_rename(src, dst)

    monkeypatch.setattr(archive_mod.os, "rename", racing_rename)
    assert extract_zip(z, tmp_path / "clear") == tmp_path / "clear"
    assert _tree(tmp_path) == {"clear.zip", "clear", "clear/a.jpg"}


KILL_AFTER = """
import os, signal, sys
from benchmark.data.sources import archive
real = archive.shutil.copyfileobj
count = 0
def copy_then_die(src, dst, n):
    global count
    real(src, dst, n)
    count += 1
    if count == int(sys.argv[3]):
        dst.flush()
        os.kill(os.getpid(), signal.SIGKILL)
archive.shutil.copyfileobj = copy_then_die
archive.extract_zip(sys.argv[1], sys.argv[2])
"""


@pytest.mark.parametrize("kill_after", [1, 4])
def test_kill_9_during_extraction_never_looks_complete_and_a_rerun_finishes(tmp_path, kill_after):
    files = {f"clear/{i:03d}.jpg": os.urandom(2000) for i in range(6)}
    z = _zip(tmp_path / "clear.zip", list(files.items()))
    r = subprocess.run([sys.executable, "-c", KILL_AFTER, str(z), str(tmp_path / "clear"), str(kill_after)],
                       cwd=REPO, capture_output=True, text=True, timeout=600)  # a hang guard, not a speed check
    assert r.returncode == -9, r.stderr
    assert not (tmp_path / "clear").exists()
    partial = [p for p in tmp_path.iterdir() if p.name.startswith(".clear.partial-")]
    assert len(partial) == 1 and len(list(partial[0].iterdir())) == kill_after
    with pytest.raises(FileNotFoundError, match="pass extract=true"):
        create_source("robustsam_release", root=str(tmp_path.parent), split=tmp_path.name)
    extract_zip(z, tmp_path / "clear")
    assert _tree(tmp_path) == {"clear.zip", "clear", *(n for n in files)}  # the dead partial is gone
    assert all((tmp_path / n).read_bytes() == d for n, d in files.items())


# --- the RobustSAM reader --------------------------------------------------------------------------------

def _release_zips(root: Path, n=2, h=20, w=28):
    """<root>/test/{clear,masks}.zip exactly as the release ships them; returns the expected samples."""
    base = root / "test"
    base.mkdir(parents=True)
    rng = np.random.default_rng(0)
    clear, masks, want = [], [], []
    for k in range(n):
        im = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        p = base / f"img{k}.png"
        Image.fromarray(im).save(p, format="JPEG", quality=95)
        clear.append((f"clear/sa_{k}.jpg", p.read_bytes()))
        p.unlink()
        m = np.zeros((2, h, w), bool)
        m[0, 2:10, 3:9] = True
        m[1, k:, k:] = True
        npy = base / "m.npy"
        np.save(npy, m)
        masks.append((f"masks/sa_{k}.npy", npy.read_bytes()))
        npy.unlink()
        want.append(m)
    _zip(base / "clear.zip", clear)
    _zip(base / "masks.zip", masks)
    return want


def test_robustsam_release_reads_its_zips_only_when_asked(tmp_path):
    want = _release_zips(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"has clear.zip, masks.zip but no clear/ or masks/ folder; "
                                                r"pass extract=true \(--source-option extract=true\)"):
        create_source("robustsam_release", root=str(tmp_path))
    assert _tree(tmp_path / "test") == {"clear.zip", "masks.zip"}
    src = create_source("robustsam_release", root=str(tmp_path), extract=True)
    assert len(src) == 2 and [src[i].image_id for i in range(2)] == ["sa_0", "sa_1"]
    for i in range(2):
        assert [o.mask.tolist() for o in src[i].objects] == [m.tolist() for m in want[i]]
    again = create_source("robustsam_release", root=str(tmp_path), extract=True)  # folders exist: no re-extraction
    assert again.clear_files == src.clear_files


def test_cli_build_from_release_zips_and_refusal_of_an_unsafe_one(tmp_path):
    _release_zips(tmp_path / "ok")
    r = run_cli("build", "--source", "robustsam_release", "--root", tmp_path / "ok", "--source-option", "extract=true",
                "--profile", "clear", "--out", tmp_path / "ds")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "ds/manifest.json").read_text())["splits"]["default"]["clear"]["rows"] == 2
    (tmp_path / "bad/test").mkdir(parents=True)
    _zip(tmp_path / "bad/test/clear.zip", [("clear/a.jpg", b"x"), ("clear/../../../escaped.txt", b"owned")])
    _zip(tmp_path / "bad/test/masks.zip", [("masks/a.npy", b"x")])
    r = run_cli("build", "--source", "robustsam_release", "--root", tmp_path / "bad", "--source-option",
                "extract=true", "--profile", "clear", "--out", tmp_path / "ds2")
    errors = [line for line in r.stderr.splitlines() if line.startswith("robustseg: error:")]
    assert r.returncode == 2 and len(errors) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "clear.zip: member 'clear/../../../escaped.txt' has a '..' component; refusing" in errors[0]
    assert not list(tmp_path.rglob("escaped.txt")) and not (tmp_path / "bad/test/clear").exists()
