"""The built site in headless Chromium (Debian `chromium`, driven by Playwright): it loads with no
console error and no network request, sorting reorders rows, filters hide rows, it reads with
JavaScript off, and a screenshot is saved for a person to look at.

Needs `apt-get install -y chromium` and `pip install playwright` (never `playwright install`:
the system browser is used). Screenshots go to $AMGE_EVAL_ARTIFACTS when set, else to the test's
temporary folder; their paths are printed (pytest -s, or in the report of a failure).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .conftest import DATASET
from .leaderboard_helpers import build_fixture

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

# CI (.ci/run) sets AMGE_EVAL_REQUIRE_BROWSER=1: there a missing browser fails instead of skipping.
_REQUIRED = os.environ.get("AMGE_EVAL_REQUIRE_BROWSER") == "1"
if not Path(CHROMIUM).is_file():
    _why = f"Debian chromium is not installed ({CHROMIUM}); apt-get install -y chromium"
    if _REQUIRED:
        raise RuntimeError(_why)
    pytest.skip(_why, allow_module_level=True)
if _REQUIRED:
    import playwright.sync_api as sync_api
else:
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed; pip install playwright")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return build_fixture(tmp_path_factory.mktemp("browser-site")).site


@pytest.fixture(scope="module")
def browser():
    # launch() starts Chromium on a fresh temporary profile (user data dir) of its own, and
    # each test page gets a new context on top of it.
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


class Watched:
    """A page with every console message, page error and request recorded."""

    def __init__(self, browser, url: str, javascript: bool = True, width: int = 1400):
        self.context = browser.new_context(java_script_enabled=javascript,
                                           viewport={"width": width, "height": 900})
        self.page = self.context.new_page()
        self.console, self.errors, self.requests = [], [], []
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url)
        self.page.wait_for_load_state("load")

    def close(self):
        self.context.close()


@pytest.fixture
def board(browser, site):
    w = Watched(browser, (site / DATASET / "index.html").as_uri())
    yield w
    w.close()


def _column(page, key: str) -> list[str]:
    return page.eval_on_selector_all(
        "#board tbody tr", f"rows => rows.map(r => r.getAttribute('data-{key}'))")


def _visible(page) -> list[str]:
    return page.eval_on_selector_all(
        "#board tbody tr", "rows => rows.filter(r => !r.hidden && r.offsetParent !== null)"
                           ".map(r => r.getAttribute('data-status'))")


def test_pages_load_without_console_errors_or_network_requests(browser, site):
    pages = [site / "index.html", site / DATASET / "index.html",
             site / DATASET / "st-gcn.html", site / DATASET / "paper-v1-mvitv2-s.html"]
    for path in pages:
        w = Watched(browser, path.as_uri())
        try:
            assert w.errors == [], path
            assert [m for m in w.console if m[0] in ("error", "warning")] == [], path
            assert w.requests == [path.as_uri()], path  # the page itself, nothing else
        finally:
            w.close()


def test_sorting_a_column_reorders_the_rows(board):
    page = board.page
    before = _column(page, "name")
    page.click("#board thead th[data-key='test_u'] button")
    test_u = [float(v) for v in _column(page, "test_u")]
    assert test_u == sorted(test_u, reverse=True)
    assert _column(page, "name") != before
    assert page.get_attribute("#board thead th[data-key='test_u']", "aria-sort") == "descending"
    page.click("#board thead th[data-key='test_u'] button")
    assert [float(v) for v in _column(page, "test_u")] == sorted(test_u)
    page.click("#board thead th[data-key='name'] button")
    names = [n.lower() for n in _column(page, "name")]
    assert names == sorted(names)
    page.click("#board thead th[data-key='rank'] button")
    assert _column(page, "name") == before  # back to rank order


def test_filters_hide_rows(board):
    page = board.page
    total = len(_visible(page))
    assert total == 20
    page.select_option("select[data-filter='status']", "reported")
    shown = _visible(page)
    assert 0 < len(shown) < total and set(shown) == {"reported"}
    assert page.inner_text("#shown") == f"Showing {len(shown)} of {total} entries"
    page.select_option("select[data-filter='family']", "skeleton")
    both = page.eval_on_selector_all(
        "#board tbody tr", "rows => rows.filter(r => !r.hidden).map(r => "
                           "[r.getAttribute('data-family'), r.getAttribute('data-status')])")
    assert both and all(f == "skeleton" and s == "reported" for f, s in both)
    page.select_option("select[data-filter='status']", "")
    page.select_option("select[data-filter='family']", "")
    assert len(_visible(page)) == total


def test_the_board_reads_with_javascript_off(browser, site):
    w = Watched(browser, (site / DATASET / "index.html").as_uri(), javascript=False)
    try:
        rows = w.page.locator("#board tbody tr")
        assert rows.count() == 20 and rows.first.is_visible()
        assert not w.page.locator("#controls").is_visible()  # filters need the script
        assert w.page.locator("svg.plot").count() == 3  # scatter + two heatmaps
        assert w.requests == [(site / DATASET / "index.html").as_uri()]
    finally:
        w.close()


def test_screenshot(browser, site, tmp_path):
    out = Path(os.environ.get("AMGE_EVAL_ARTIFACTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    shots = {"leaderboard-board.png": site / DATASET / "index.html",
             "leaderboard-entry.png": site / DATASET / "st-gcn.html",
             "leaderboard-index.png": site / "index.html"}
    for name, path in shots.items():
        w = Watched(browser, path.as_uri())
        try:
            w.page.screenshot(path=str(out / name), full_page=True)
        finally:
            w.close()
        assert (out / name).stat().st_size > 10_000
        print(f"screenshot: {out / name}")
