"""Crashes, full disks and concurrent writers cost nothing: no half-written file looks complete."""
import signal
import subprocess
import sys

import pytest

from benchmark.data.build import BuildConfig, build
from benchmark.jobs import FolderBusyError, folder_lock

from .killpoints import run_until
from .test_build import tree_bytes

ARGS = ["build", "--num-images", "8", "--image-size", "128x96", "--profile", "robustsam", "--images-per-shard", "2"]

LIMITED = r"""
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # over-limit writes fail with EFBIG, as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))
from benchmark.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_full_disk_fails_clearly_and_resumes(tmp_path):
    out = tmp_path / "ds"
    r = subprocess.run([sys.executable, "-c", LIMITED, *ARGS, "--image-format", "png", "--out", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith("robustseg: error:") and ".parquet: write failed (File too large)" in line, r.stderr
    assert not (out / "manifest.json").exists() and not list(out.rglob("*.tmp"))
    ok = subprocess.run([sys.executable, "-m", "benchmark.cli", *ARGS, "--image-format", "png", "--out", str(out)],
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    ref = tmp_path / "ref"
    subprocess.run([sys.executable, "-m", "benchmark.cli", *ARGS, "--image-format", "png", "--out", str(ref)],
                   check=True, capture_output=True, timeout=300)
    assert tree_bytes(out) == tree_bytes(ref)


def test_second_writer_is_refused(tmp_path):
    out = tmp_path / "ds"
    with folder_lock(out / ".robustseg", "build-0-of-1.lock"):
        with pytest.raises(FolderBusyError, match="in use by another robustseg process"):
            build(BuildConfig(source_options={"num_images": 1}, profile="clear"), out)
    assert not (out / "data").exists()


def test_second_writer_process_gets_one_line(tmp_path):
    """Another process holds the folder (as a running build does): the CLI refuses with one line."""
    out = tmp_path / "ds"
    with folder_lock(out / ".robustseg", "build-0-of-1.lock"):
        r = subprocess.run([sys.executable, "-m", "benchmark.cli", *ARGS, "--out", str(out)],
                           capture_output=True, text=True, timeout=600)  # a hang guard, not a speed check
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "in use by another robustseg process" in r.stderr
    assert not (out / "data").exists()


@pytest.mark.parametrize("event,after", [("marker", 1), ("marker", 3), ("temp", 2)])
def test_kill_during_eval_then_resume_same_bytes(tmp_path, tiny_dataset, event, after):
    """kill -9 an evaluation after some result files (or in the middle of writing one, chosen by state);
    the rerun completes with identical files."""
    cmd = [sys.executable, "-m", "benchmark.cli", "eval", "--dataset", str(tiny_dataset), "--model", "grabcut",
           "--protocol", "point"]
    ref = tmp_path / "ref"
    subprocess.run([*cmd, "--out", str(ref)], check=True, capture_output=True, timeout=300)
    out = tmp_path / "killed"
    r = run_until("SIGKILL", event, after, cmd[3:] + ["--out", out])
    assert r.returncode == -signal.SIGKILL, r.stderr
    n_before = len(list(out.rglob("*.parquet")))
    assert n_before == (after if event == "marker" else after - 1)
    subprocess.run([*cmd, "--out", str(out)], check=True, capture_output=True, timeout=300)
    got = {p.relative_to(out): p.read_bytes() for p in out.rglob("*.parquet")}
    want = {p.relative_to(ref): p.read_bytes() for p in ref.rglob("*.parquet")}
    assert got == want and len(want) > n_before
    assert not list(out.rglob("*.tmp"))
