"""The static web leaderboard in a real headless browser (Debian's Chromium driven by Playwright):
pages load from file:// without console errors, a header click reorders rows, the filter hides rows,
every plot image loads, and screenshots are kept as artifacts (``$ROBUSTSEG_ARTIFACTS`` or
``artifacts/site-browser`` under the repository)."""
import os
import shutil
from pathlib import Path

import pytest

from benchmark.eval.evaluate import evaluate
from benchmark.report.leaderboard import build_leaderboards

from .conftest import REPO

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(os.environ.get("ROBUSTSEG_ARTIFACTS", REPO / "artifacts")) / "site-browser"


@pytest.fixture(scope="module")
def site(tiny_dataset, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    for model in ("box", "grabcut"):
        evaluate(model, tiny_dataset, "box", out / "results")
    build_leaderboards([out / "results"], out / "lb", html=out / "lb" / "site")
    return out / "lb" / "site"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (`apt-get install -y chromium`, as .ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is absent (pip install -e '.[test]')")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _open(browser, path: Path):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, errors


def _column(page, table: str, col: int) -> list[str]:
    return page.eval_on_selector_all(f"#{table} tbody tr", f"rows => rows.map(r => r.cells[{col}].getAttribute('data-sort'))")


def test_track_page_sorts_filters_and_loads_plots(site, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page, errors = _open(browser, site / "track-robustseg_box.html")
    headers = page.eval_on_selector_all("#rows thead th", "hs => hs.map(h => h.textContent)")
    col = headers.index("mIoU")
    before = _column(page, "rows", col)
    page.click(f"#rows thead th:nth-child({col + 1})")
    ascending = _column(page, "rows", col)
    numbers = [float(v) for v in ascending if v]
    assert numbers == sorted(numbers) and ascending != before
    page.click(f"#rows thead th:nth-child({col + 1})")
    descending = [float(v) for v in _column(page, "rows", col) if v]
    assert descending == sorted(numbers, reverse=True)

    visible = lambda: page.eval_on_selector_all("#rows tbody tr", "rs => rs.filter(r => !r.hidden).length")  # noqa: E731
    total = visible()
    page.fill("input[data-table=rows]", "measured clear")
    shown = visible()
    assert 0 < shown < total
    kept = page.eval_on_selector_all("#rows tbody tr", "rs => rs.filter(r => !r.hidden).map(r => [r.cells[5].textContent, "
                                     "r.cells[2].textContent])")
    assert {tuple(k) for k in kept} == {("measured", "clear")}

    images = page.eval_on_selector_all("img", "is => is.map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])")
    assert images and all(complete and width > 0 for _, complete, width in images), images
    page.fill("input[data-table=rows]", "")
    page.screenshot(path=str(ARTIFACTS / "track-robustseg_box.png"), full_page=True)
    assert (ARTIFACTS / "track-robustseg_box.png").stat().st_size > 0
    assert not errors, errors


def test_every_page_loads_without_errors(site, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for html in sorted(site.glob("*.html")):
        page, errors = _open(browser, html)
        assert not errors, (html.name, errors)
        page.close()
    page, _ = _open(browser, site / "index.html")
    page.screenshot(path=str(ARTIFACTS / "index.png"), full_page=True)


def test_site_is_regenerated_byte_identically(site, tmp_path):
    results = site.parent.parent / "results"
    build_leaderboards([results], tmp_path / "lb", html=tmp_path / "lb" / "site")
    a = {p.relative_to(site): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}
    b = {p.relative_to(tmp_path / "lb" / "site"): p.read_bytes() for p in sorted((tmp_path / "lb" / "site").rglob("*"))
         if p.is_file()}
    assert a.keys() == b.keys() and a == b
    text = "".join(p.read_text() for p in site.glob("*.html"))
    assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text
    shutil.rmtree(tmp_path / "lb")
