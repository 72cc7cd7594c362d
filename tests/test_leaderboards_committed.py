"""The committed leaderboards/ are what the README's commands produce with this code.

Runs the default job (`robustseg run`) and `robustseg leaderboard` in subprocesses, then compares
every CSV and markdown file with the committed ones, byte for byte. It fails when a change moves
any number without regenerating leaderboards/ (see README, "Leaderboards")."""

import pytest

from .conftest import REPO, run_cli

COMMITTED = REPO / "leaderboards"


@pytest.mark.slow
def test_committed_leaderboards_are_reproduced(tmp_path):
    r = run_cli("run", "--out", tmp_path / "run", timeout=1800)
    assert r.returncode == 0, r.stderr[-2000:]
    r = run_cli("leaderboard", tmp_path / "run" / "results", "--out", tmp_path / "lb", timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    committed = sorted(p.name for p in COMMITTED.iterdir() if p.suffix in (".csv", ".md"))
    produced = sorted(p.name for p in (tmp_path / "lb").iterdir() if p.suffix in (".csv", ".md"))
    assert produced == committed
    stale = [n for n in committed if (COMMITTED / n).read_bytes() != (tmp_path / "lb" / n).read_bytes()]
    assert not stale, f"leaderboards/ is stale for {stale}: run `robustseg run` and `robustseg leaderboard " \
                      "runs/default/results --out leaderboards`, then commit"
