"""Run the README's test command N times in a row while other processes keep every core busy.

Issue 16 asks that the whole suite pass ten times in a row on a loaded machine: the evidence that no
test depends on wall-clock timing. This is run by hand, never by the suite itself:

    python benchmarks/stress_suite.py --runs 10 --log benchmarks/stress_log.jsonl
    python benchmarks/stress_suite.py --runs 10 --workers 2   # the same suite split over 2 xdist workers

``--workers N`` adds pytest-xdist's ``-n N``: the tests then run in an order that changes from run to
run, two at a time, so a test that depends on another's leftovers (a shared fixture it mutates, a file
in a common folder) fails here although the serial order hides it. With two workers and two busy
processes on two cores the suite gets about half the machine, as the serial run beside them gets two
thirds; a run takes about as long as serial idle plus its share of the wait.

Each busy process spins a pure-Python loop at normal priority, so the suite gets about
cores / (cores + load) of the machine. It stops at the first failing run (the rule is "in a row")
unless ``--keep-going``; each run's summary line, duration and load average are appended to the log,
and a failing run's last 200 lines of output are kept there so the failure can be read afterwards.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEST_COMMAND = [sys.executable, "-m", "pytest", "-q"]  # the README's test command, after its install step
SUMMARY = re.compile(r"^=*\s*(\d+ (passed|failed|error).*) in [\d.]+s", re.MULTILINE)


def _spin() -> None:
    while True:
        pass


def run_once(index: int, command: list[str]) -> dict:
    """One run of the suite; the record says what pytest said and how loaded the machine was."""
    started = time.monotonic()
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    found = SUMMARY.findall(out)
    record = {
        "run": index,
        "utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "exit_code": proc.returncode,
        "summary": found[-1][0] if found else "no pytest summary line",
        "seconds": round(time.monotonic() - started, 1),
        "loadavg_1m": os.getloadavg()[0],
    }
    if proc.returncode != 0:
        record["tail"] = out.splitlines()[-200:]
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs in a row (default 10)")
    parser.add_argument("--load", type=int, default=os.cpu_count() or 2,
                        help="busy processes beside the suite (default: one per core)")
    parser.add_argument("--log", type=Path, default=REPO / "benchmarks" / "stress_log.jsonl",
                        help="JSON-lines log, appended to")
    parser.add_argument("--workers", type=int, default=0,
                        help="pytest-xdist workers (-n N); 0 (default) runs the README's serial command")
    parser.add_argument("--keep-going", action="store_true", help="do not stop at the first failing run")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.load < 0 or args.workers < 0:
        parser.error("--runs must be >= 1, --load >= 0 and --workers >= 0")
    command = TEST_COMMAND + (["-n", str(args.workers)] if args.workers else [])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                            text=True).stdout.strip() or "unknown"
    spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(args.load)]
    for p in spinners:
        p.start()
    passed = 0
    try:
        for i in range(1, args.runs + 1):
            record = {"commit": commit, "command": " ".join(["python", *command[1:]]), "load_processes": args.load,
                      "cores": os.cpu_count(), **run_once(i, command)}
            with args.log.open("a") as f:
                f.write(json.dumps(record) + "\n")
            print(f"run {i}/{args.runs}: exit {record['exit_code']}, {record['summary']}, "
                  f"{record['seconds']} s, load {record['loadavg_1m']:.1f}", flush=True)
            passed += record["exit_code"] == 0
            if record["exit_code"] != 0 and not args.keep_going:
                break
    finally:
        for p in spinners:
            p.terminate()
    print(f"{passed} of {args.runs} runs passed at commit {commit} with {args.load} busy processes")
    return 0 if passed == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
