"""The dashboard page and the docs site's index in a real headless Chromium (Debian's), driven
by Playwright.

Chromium comes from the system (``apt-get install chromium``, done by ``.ci/run``), not from
Playwright's downloads: the machine has no internet. Without it these tests are skipped,
unless ``ACTORIO_REQUIRE_BROWSER=1`` (set by CI) makes that a failure; the site's test also
needs MkDocs (``pip install -e '.[docs]'``; ``ACTORIO_REQUIRE_DOCS=1`` in CI). The screenshots
are kept in ``artifacts/`` (``ACTORIO_ARTIFACTS`` moves it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from _servers import ARTIFACTS, ROOT, running

pytestmark = pytest.mark.timeout(180)

CHROMIUM = os.environ.get("ACTORIO_CHROMIUM", "/usr/bin/chromium")


def _chromium() -> str:
    if Path(CHROMIUM).exists() or shutil.which(CHROMIUM):
        return CHROMIUM
    if os.environ.get("ACTORIO_REQUIRE_BROWSER") == "1":
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")


@contextmanager
def _page() -> Iterator[tuple[Any, Any]]:
    """Playwright's sync API and a page in a fresh headless Chromium, closed afterwards."""
    executable = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield sync_api, browser.new_page(viewport={"width": 1400, "height": 900})
        finally:
            browser.close()


def _screenshot(page: Any, name: str) -> None:
    """Keep what the browser showed (CI's artifacts; ``ACTORIO_ARTIFACTS`` moves them)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / name
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_dashboard_page_shows_live_actors() -> None:
    with (
        _page() as (sync_api, page),
        running("examples/dashboard_demo.py", "/api/actors", "--seconds", "120") as server,
    ):
        page.goto(server.url + "/?interval=250")
        rows = page.locator("tr[data-actor-id]")
        rows.first.wait_for(timeout=20_000)
        sync_api.expect(rows).to_have_count(4, timeout=20_000)
        names = sorted(rows.locator("td[data-field=name]").all_inner_texts())
        assert names == ["counter", "cruncher", "fetcher", "parser"]
        backends = rows.locator("td[data-field=backend]").all_inner_texts()
        assert sorted(backends) == ["local", "local", "local", "process"]

        # The counter's completed calls rise while we watch.
        counter = page.locator("tr:has(td[data-field=name]:text-is('counter'))")
        completed = counter.locator("td[data-field=calls_completed]")
        first = int(completed.inner_text())
        page.wait_for_function(
            """(first) => [...document.querySelectorAll("tr[data-actor-id]")]
                .filter(row => row.querySelector("[data-field=name]").textContent === "counter")
                .some(row => Number(row.querySelector("[data-field=calls_completed]")
                    .textContent) > first + 100)""",
            arg=first,
            timeout=20_000,
        )
        assert int(completed.inner_text()) > first
        sync_api.expect(counter.locator("td[data-field=state]")).to_have_text("ALIVE")
        assert float(counter.locator("td[data-field=throughput]").inner_text()) > 0

        # The parser's failures show up with their traceback.
        error = page.locator("#errors .error").first
        error.wait_for(timeout=20_000)
        assert re.search(r"Parser\.parse .* raised ValueError", error.inner_text())
        assert "cannot parse 'bad input'" in error.locator("pre").inner_text()

        _screenshot(page, "dashboard.png")
        server.stop()


def _built_site(out: Path) -> Path:
    """The docs site, built the way CI builds it (strict: a broken link fails the build)."""
    if shutil.which("mkdocs", path=os.path.dirname(sys.executable)) is None:
        if os.environ.get("ACTORIO_REQUIRE_DOCS") == "1":
            pytest.fail("mkdocs is not installed: pip install -e '.[docs]'")
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]')")
    mkdocs = os.path.join(os.path.dirname(sys.executable), "mkdocs")
    done = subprocess.run(
        [mkdocs, "build", "--strict", "--quiet", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out / "index.html"


def test_docs_site_index_renders_with_its_chart_and_pages(tmp_path: Path) -> None:
    index = _built_site(tmp_path / "site")
    with _page() as (sync_api, page):
        page.goto(index.as_uri())
        sync_api.expect(page.locator("article h1")).to_have_text(re.compile("actorio"))
        chart = page.locator("article img[src$='benchmarks.png']")
        # The chart loaded: a broken image has no natural width.
        page.wait_for_function(
            "(img) => img.complete && img.naturalWidth > 1000", arg=chart.element_handle()
        )
        nav = page.locator("nav.md-nav--primary").all_inner_texts()[0]
        for title in ("Semantics", "Testing actor code", "Worker processes", "API reference"):
            assert title in nav
        # Every page the index links to was built.
        for href in page.locator("article a[href]").evaluate_all(
            "(links) => links.map(a => a.getAttribute('href'))"
        ):
            if not re.match(r"[a-z]+:|#", href):
                target = (index.parent / href.split("#")[0]).resolve()
                assert target.exists() or (target / "index.html").exists(), href

        _screenshot(page, "docs-index.png")
