"""The committed leaderboards/ and leaderboards/site/ are what the README's commands produce with this code.

Runs the default job (`robustseg run`) and `robustseg leaderboard ... --html` in subprocesses, then
compares every CSV, markdown and web page (HTML, CSS, JS) with the committed ones, byte for byte, and
the plot file names (PNG bytes depend on the installed FreeType, so only their presence is compared). It
fails when a change moves any number without regenerating leaderboards/ (see README, "Leaderboards")."""

import pytest

from .conftest import REPO, run_cli

COMMITTED = REPO / "leaderboards"
TEXT = (".csv", ".md", ".html", ".css", ".js")
REGENERATE = ("run `robustseg run --out runs/default` and `robustseg leaderboard runs/default/results --out "
              "leaderboards --html leaderboards/site`, then commit")


def _files(root):
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_committed_leaderboards_and_site_are_reproduced(tmp_path):
    r = run_cli("run", "--out", tmp_path / "run", timeout=1800)
    assert r.returncode == 0, r.stderr[-2000:]
    r = run_cli("leaderboard", tmp_path / "run" / "results", "--out", tmp_path / "lb", "--html",
                tmp_path / "lb" / "site", timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    committed, produced, by_run = _files(COMMITTED), _files(tmp_path / "lb"), _files(tmp_path / "run" / "leaderboards")
    assert sorted(produced) == sorted(committed), f"leaderboards/ lists other files: {REGENERATE}"
    assert sorted(by_run) == sorted(produced)  # `robustseg run` writes what the committed folder holds
    text = [n for n in committed if n.endswith(TEXT)]
    assert any(n.startswith("site/") and n.endswith(".html") for n in text)
    stale = [n for n in text if committed[n].read_bytes() != produced[n].read_bytes()]
    assert not stale, f"leaderboards/ is stale for {stale}: {REGENERATE}"
    differ = [n for n in text if by_run[n].read_bytes() != produced[n].read_bytes()]
    assert not differ, f"`robustseg run` and `robustseg leaderboard` disagree on {differ}"
