"""Stop a ``robustseg`` command at a point chosen by its state, never by time: the command runs in a
subprocess that signals itself when an event has happened N times, so the kill lands at the same place on
a fast or a loaded machine.

Events: ``identity`` (the job's identity file written), ``marker`` (a done-marker written), ``checkpoint``
(a training checkpoint published: its ``latest.json`` written), ``unmarked``
(a unit's files are published, its done-marker is about to be written), ``temp`` (a parquet temp file is
written, not yet renamed: mid-write), ``progress`` (the progress bar reports N units done; the signal then
goes to the whole process group, as Ctrl-C in a terminal does, workers included)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import os, signal, sys
sig, event, after = getattr(signal, sys.argv[1]), sys.argv[2], int(sys.argv[3])
# Ctrl-C as in a terminal: a process started in the background by a shell without job control (nohup, a
# CI runner) inherits SIGINT ignored, and Python then keeps ignoring it, so the kill point would be missed.
signal.signal(signal.SIGINT, signal.default_int_handler)
count = 0

def hit(group=False):
    global count
    count += 1
    if count == after:
        os.killpg(os.getpgid(0), sig) if group else os.kill(os.getpid(), sig)

from benchmark import cli
from benchmark.data import build
from benchmark.eval import evaluate
import pyarrow.parquet as pq

def wrap_json(mod):
    real = mod.atomic_write_json
    def write(path, obj):
        p = str(path)
        is_marker = "/.robustseg/done/" in p
        if event == "unmarked" and is_marker:
            hit()
        real(path, obj)
        if (event == "marker" and is_marker) or (event == "identity" and p.endswith(("build.json", "eval.json"))) \
                or (event == "checkpoint" and p.endswith("/checkpoints/latest.json")):
            hit()
    mod.atomic_write_json = write

wrap_json(build)
wrap_json(evaluate)
if event == "checkpoint":  # imports torch: only for training runs
    from benchmark.train import state
    wrap_json(state)
if event == "temp":
    real_write_table = pq.write_table
    def write_table(*a, **k):
        real_write_table(*a, **k)
        hit()
    pq.write_table = write_table
if event == "progress":
    real_call = cli._Progress.__call__
    def progress(self, done, total):
        real_call(self, done, total)
        if 0 < done < total:
            hit(group=True)
    cli._Progress.__call__ = progress
sys.exit(cli.main(sys.argv[4:]))
"""


def run_until(signal_name: str, event: str, after: int, argv: list, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``robustseg *argv`` and send it ``signal_name`` when ``event`` has happened ``after`` times
    (in its own session, so a process-group signal reaches only it and its workers)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-c", SCRIPT, signal_name, event, str(after), *map(str, argv)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, start_new_session=True)
