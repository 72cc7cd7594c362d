"""Interruptions and outages: Ctrl-C and SIGTERM print one line and leave a state the same command
resumes to the same bytes; empty or corrupt state files count as absent; a dead Hub or Ray address fails
with one line instead of waiting. Kill points are chosen by state (tests/killpoints.py), never by time."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark import cli
from benchmark.jobs import read_state

from .killpoints import REPO, run_until
from .test_build import tree_bytes

BUILD = ["build", "--num-images", "6", "--image-size", "48x48", "--profile", "robustsam/gauss_noise,robustsam/contrast",
         "--images-per-shard", "1", "--image-format", "png"]
RESUME = "finished parts are saved, rerun the same command to resume"


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The uninterrupted build every interrupted one must end equal to."""
    out = tmp_path_factory.mktemp("ref") / "ds"
    assert cli.main([*BUILD, "--out", str(out)]) == 0
    return out


def _parquet_bytes(root: Path) -> dict:
    return {p.relative_to(root): p.read_bytes() for p in root.rglob("*.parquet")}


def _one_line_interrupt(r: subprocess.CompletedProcess, signum: int) -> None:
    assert r.returncode == 128 + signum, r.stderr
    assert "Traceback" not in r.stderr and "KeyboardInterrupt" not in r.stderr, r.stderr
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    name = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
    assert lines[-1] == f"robustseg: interrupted ({name}); {RESUME}", lines[-1]
    assert sum("robustseg:" in l for l in lines) == 1


@pytest.mark.parametrize("sig,event,after,workers", [
    ("SIGINT", "marker", 1, 1),      # Ctrl-C right after the first chunk is recorded
    ("SIGTERM", "marker", 3, 1),     # SIGTERM after three chunks
    ("SIGTERM", "temp", 2, 1),       # mid-write: the second parquet file exists only as a temp file
    ("SIGTERM", "unmarked", 2, 1),   # a chunk's files are published, its done-marker not yet written
    ("SIGINT", "progress", 2, 2),    # Ctrl-C to the process group (parent and 2 pool workers) after 2 chunks
])
def test_build_interrupted_says_one_line_and_resumes_to_the_same_bytes(tmp_path, reference, sig, event, after, workers):
    out = tmp_path / "ds"
    r = run_until(sig, event, after, [*BUILD, "--num-workers", workers, "--out", out])
    _one_line_interrupt(r, getattr(signal, sig))
    assert not (out / "manifest.json").exists(), "interrupted after the end: the kill point was not reached"
    if workers == 1:  # in-process writers clean up their temp file while unwinding
        assert not list(out.rglob("*.tmp"))
    ok = subprocess.run([sys.executable, "-m", "benchmark.cli", *BUILD, "--out", str(out)], cwd=REPO,
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert tree_bytes(out) == tree_bytes(reference) and not list(out.rglob("*.tmp"))


def test_eval_sigterm_after_one_file_resumes_to_the_same_results(tmp_path, reference):
    args = ["eval", "--dataset", reference, "--model", "box", "--protocol", "box"]
    assert cli.main([*map(str, args), "--out", str(tmp_path / "ref")]) == 0
    r = run_until("SIGTERM", "marker", 1, [*args, "--out", tmp_path / "r"])
    _one_line_interrupt(r, signal.SIGTERM)
    assert len(list((tmp_path / "r").rglob("*.parquet"))) == 1
    assert cli.main([*map(str, args), "--out", str(tmp_path / "r")]) == 0
    got, want = _parquet_bytes(tmp_path / "r"), _parquet_bytes(tmp_path / "ref")
    assert got == want and len(want) > 1


def test_verified_parquet_is_parsed_from_memory_arrow_owns(tmp_path, reference, monkeypatch):
    """Under load, an evaluation stopped by SIGTERM once aborted at exit (SIGABRT, not 143): an Arrow
    reader thread dropped the last reference to the Python ``bytes`` the verified shard was parsed from,
    and releasing it needed the GIL during interpreter finalization. Shards are therefore read into a
    buffer Arrow allocated, which its threads can release without Python."""
    import pyarrow as pa

    seen = []
    real = pa.BufferReader
    monkeypatch.setattr(pa, "BufferReader", lambda source: seen.append(source) or real(source))
    assert cli.main(["eval", "--dataset", str(reference), "--model", "box", "--protocol", "box",
                     "--out", str(tmp_path / "r")]) == 0
    assert seen and all(isinstance(s, pa.Buffer) for s in seen), {type(s) for s in seen}


# --- empty or corrupt state files count as absent --------------------------------------------------------

CORRUPT = {"empty": b"", "not json": b"{\"files\": ", "a list": b"[]", "wrong types": b"{\"files\": 3, \"skipped\": 1}",
           "binary": b"\xff\xfe\x00garbage", "a string": b"\"done\""}


@pytest.mark.parametrize("content", CORRUPT.values(), ids=CORRUPT.keys())
def test_corrupt_done_markers_are_redone(tmp_path, reference, content):
    out = tmp_path / "ds"
    assert cli.main([*BUILD, "--out", str(out)]) == 0
    (out / "manifest.json").unlink()  # as if killed before the end
    markers = sorted((out / ".robustseg" / "done").iterdir())
    for m in markers[::2]:
        m.write_bytes(content)
    assert cli.main([*BUILD, "--out", str(out)]) == 0
    assert tree_bytes(out) == tree_bytes(reference)
    assert all(isinstance((read_state(m) or {}).get("files"), dict) for m in markers)  # rewritten


@pytest.mark.parametrize("content", [b"", b"garbage", b"{}"], ids=["empty", "garbage", "empty object"])
def test_corrupt_lock_files_do_not_block(tmp_path, reference, content):
    out = tmp_path / "ds"
    (out / ".robustseg").mkdir(parents=True)
    (out / ".robustseg" / ".build-0-of-1.lock").write_bytes(content)
    assert cli.main([*BUILD, "--out", str(out)]) == 0
    assert tree_bytes(out) == tree_bytes(reference)


def test_corrupt_eval_identity_and_markers_resume(tmp_path, reference):
    """eval.json empty and one marker corrupt: the evaluation resumes (the identity is rewritten, the
    marked file redone) and ends with the same bytes."""
    args = ["eval", "--dataset", str(reference), "--model", "box", "--protocol", "box"]
    assert cli.main([*args, "--out", str(tmp_path / "ref")]) == 0
    assert cli.main([*args, "--out", str(tmp_path / "r")]) == 0
    (target,) = [p.parent.parent for p in (tmp_path / "r").rglob(".robustseg/eval.json")]
    (target / "manifest.json").unlink()
    (target / ".robustseg" / "eval.json").write_bytes(b"")
    next((target / ".robustseg" / "done").iterdir()).write_bytes(b"{")
    assert cli.main([*args, "--out", str(tmp_path / "r")]) == 0
    got, want = _parquet_bytes(tmp_path / "r"), _parquet_bytes(tmp_path / "ref")
    assert got == want


def test_empty_build_identity_is_refused_with_one_line(tmp_path, capsys):
    """An unreadable build.json cannot prove the shards are this build's: the folder is refused by name
    (never mixed), with one line."""
    out = tmp_path / "ds"
    assert cli.main([*BUILD, "--out", str(out)]) == 0
    (out / ".robustseg" / "build.json").write_bytes(b"")
    capsys.readouterr()
    assert cli.main([*BUILD, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{out} is not empty and holds no robustseg build" in err


@pytest.mark.parametrize("content", [b"", b"{\"step\": \"3\"}", b"[1]", b"{\"step\": 3}"],
                         ids=["empty", "step not int", "a list", "no dir"])
def test_corrupt_training_pointer_counts_as_no_checkpoint(tmp_path, content):
    from benchmark.train.state import LATEST, latest_step

    (tmp_path / LATEST).write_bytes(content)
    assert latest_step(tmp_path) is None
    (tmp_path / LATEST).write_text(json.dumps({"step": 3, "dir": "step-3"}))
    assert latest_step(tmp_path) == 3


# --- outages: bounded time, one line ---------------------------------------------------------------------

def _closed_port() -> int:
    """A localhost port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli_subprocess(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmark.cli", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=300)


def _last_line(r) -> str:
    assert "Traceback" not in r.stderr, r.stderr
    return [l for l in r.stderr.splitlines() if l.strip()][-1]


def test_push_without_network_fails_with_one_line(reference):
    r = _cli_subprocess("push", reference, "user/repo", env={"HF_HUB_OFFLINE": "1"})
    assert r.returncode == 2 and "offline mode is on (HF_HUB_OFFLINE=1)" in _last_line(r)
    port = _closed_port()
    r = _cli_subprocess("push", reference, "user/repo",
                        env={"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": f"http://127.0.0.1:{port}", "HF_TOKEN": "hf_x"})
    line = _last_line(r)
    assert r.returncode == 2 and f"nothing answers at http://127.0.0.1:{port}" in line, line


def test_push_to_a_silent_server_gives_up_with_one_line(reference):
    """A server that accepts the connection and never answers: the stall timeout ends the push."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)  # connections complete in the backlog; nothing is ever read or answered
        r = _cli_subprocess("push", reference, "user/repo", env={
            "HF_HUB_OFFLINE": "0", "HF_ENDPOINT": f"http://127.0.0.1:{s.getsockname()[1]}", "HF_TOKEN": "hf_x"})
    line = _last_line(r)
    assert r.returncode == 2 and "push to user/repo failed" in line and "Timeout" in line, line


def test_ray_address_that_is_dead_fails_with_one_line(tmp_path, capsys):
    pytest.importorskip("ray")
    port = _closed_port()
    rc = cli.main([*BUILD, "--engine", "ray", "--ray-address", f"127.0.0.1:{port}", "--out", str(tmp_path / "ds")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err[-1] == (f"robustseg: error: Ray cluster (--ray-address): nothing answers at 127.0.0.1:{port} "
                                   "(Connection refused); is it running, and is the address right?")
    assert not (tmp_path / "ds").exists()
