"""A real browser over the results (design §13): the OS's headless Chromium, driven over the
Chrome DevTools protocol by playwright's Python package (never its own browser download),
opens report.html from disk with the network cut and the running `segengine app` on
localhost; no JavaScript error, every chart drawn, screenshots in test-artifacts/browser/.

Skipped, with the reason, only when Chromium is not installed (.ci/run installs the Debian
`chromium` package when it is missing).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from segengine.cli import cli

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "browser"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]
HEADINGS = {"Segments": "Segment explorer", "Customer lookup": "Customer lookup",
            "Migration": "Segment migration", "RFM & clusters": "RFM and clusters",
            "Churn": "Churn risk", "Campaign builder": "Campaign builder"}
APP_PAGES = tuple(HEADINGS)

if CHROMIUM is None:
    pytest.skip("Chromium is not installed (Debian package `chromium`; .ci/run installs it "
                "with apt-get when it can)", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api", reason="playwright (dev extra) missing")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated portfolio run as of two month-ends, so every chart has data."""
    root = tmp_path_factory.mktemp("browser") / "data"
    runner = CliRunner()
    for args in (["generate", "--customers", "1000", "--months", "12"],
                 ["run", "--as-of", "2025-09-30"], ["run"], ["report"]):
        result = runner.invoke(cli, ["-q", "--data-dir", str(root), *args])
        assert result.exit_code == 0, result.output
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A persistent context on a fresh --user-data-dir of the OS's Chromium."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    with playwright.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1280, "height": 900})
        try:
            yield context
        finally:
            context.close()


class Watch:
    """JavaScript errors and requests that left the allowed origin, for one page."""

    def __init__(self, page: Any, allowed: tuple[str, ...]) -> None:
        self.errors: list[str] = []
        self.outside: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

        def route(r: Any) -> None:
            if r.request.url.startswith(allowed):
                r.continue_()
            else:
                self.outside.append(r.request.url)
                r.abort()

        page.route("**/*", route)


# Streamlit keeps the previous page's elements, zero-sized, until it drops them: only charts
# that take up space on the page count.
DRAWN = """(selector) => Array.from(document.querySelectorAll(selector)).filter(
    el => el.getBoundingClientRect().width > 0).map(el => {
    const svg = el.querySelector('svg.main-svg'); const box = el.getBoundingClientRect();
    const marks = el.querySelectorAll('.plot .trace, .sankey .sankey-node, g.hm, image,'
        + ' .point, .bars path, .barlayer .bars path, .scatterlayer .trace').length;
    return {id: el.id || el.className, width: box.width, height: box.height,
            svg: !!svg, marks: marks}; })"""


CUT = """(selector) => Array.from(document.querySelectorAll(selector + ', ' + selector + ' *'))
    .filter(el => el.getBoundingClientRect().width > 0 && el.scrollWidth > el.clientWidth + 1)
    .map(el => el.textContent)"""


def test_report_opens_offline_without_errors_and_draws_every_chart(demo: Path,
                                                                   browser: Any) -> None:
    report = demo / "out" / "2025-10-31" / "report.html"
    page = browser.new_page()
    watch = Watch(page, ("file://",))
    browser.set_offline(True)
    try:
        page.goto(report.as_uri(), wait_until="load")
        page.wait_for_timeout(1500)
        charts = page.evaluate(DRAWN, ".js-plotly-plot")
        page.screenshot(path=str(ARTIFACTS / "report-top.png"))
        page.screenshot(path=str(ARTIFACTS / "report-full.png"), full_page=True)
    finally:
        browser.set_offline(False)
        page.close()
    assert watch.errors == [] and watch.outside == []
    in_file = re.findall(r'<div id="(chart-[a-z-]+)" class="plotly-graph-div"', report.read_text())
    assert len(in_file) >= 11 and sorted(c["id"] for c in charts) == sorted(in_file)
    empty = [c for c in charts if not (c["svg"] and c["width"] > 100 and c["height"] > 100
                                       and c["marks"] > 0)]
    assert empty == [], empty


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def app_url(demo: Path) -> Iterator[str]:
    """`segengine app` running on a free localhost port until the module ends."""
    pytest.importorskip("streamlit", reason="the app extra (streamlit) is not installed")
    port = _free_port()
    # its own process group: `segengine app` runs streamlit as a child, which a terminate() of
    # segengine alone would leave running after the tests
    proc = subprocess.Popen(
        [sys.executable, "-m", "segengine", "--data-dir", str(demo), "app", "--port", str(port),
         "--host", "127.0.0.1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    pytest.fail(f"segengine app did not start: {out[-2000:]}")
                time.sleep(0.5)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):  # streamlit, if still running
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_app_pages_render_without_errors_and_draw_their_charts(app_url: str,
                                                               browser: Any) -> None:
    page = browser.new_page()
    watch = Watch(page, (app_url,))
    drawn: dict[str, list[dict[str, Any]]] = {}
    expected = {"Segments": 1, "Customer lookup": 0, "Migration": 2, "RFM & clusters": 3,
                "Churn": 2, "Campaign builder": 0}
    try:
        page.goto(app_url, wait_until="networkidle")
        page.get_by_text("Segment explorer").first.wait_for(timeout=30_000)
        for number, name in enumerate(APP_PAGES):
            page.locator("[data-testid='stSidebar'] label").filter(has_text=name).first.click()
            page.get_by_role("heading", name=HEADINGS[name]).first.wait_for(timeout=30_000)
            if name == "Customer lookup":
                page.get_by_label("Customer id").fill("CUST00000002")
                page.get_by_label("Customer id").press("Enter")
                page.wait_for_selector("[data-testid='stVegaLiteChart'] canvas, "
                                       "[data-testid='stVegaLiteChart'] svg", timeout=30_000)
            # the script run ends, then charts mount asynchronously: wait until the page holds
            # its charts, each with its SVG drawn (a chart that never draws fails here)
            if name == "Campaign builder":
                page.get_by_text("Break-even response rate").first.wait_for(timeout=30_000)
            page.wait_for_selector("[data-testid='stStatusWidget']", state="detached",
                                   timeout=30_000)
            page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]')",
                                   timeout=30_000)
            page.wait_for_function(
                f"n => {{ const c = ({DRAWN})('.js-plotly-plot'); return c.length >= n && "
                "c.every(x => x.svg && x.marks > 0); }", arg=expected[name], timeout=30_000)
            page.wait_for_timeout(500)
            drawn[name] = page.evaluate(DRAWN, ".js-plotly-plot")
            cut = page.evaluate(CUT, "[data-testid='stMetricValue']")
            assert cut == [], (name, cut)  # a number shown with an ellipsis is mis-stated
            page.screenshot(path=str(ARTIFACTS / f"app-{number}-{name.split()[0].lower()}.png"))
            assert not page.locator("[data-testid='stException']").count(), name
    finally:
        page.close()
    assert watch.errors == [] and watch.outside == []
    for name, count in expected.items():
        charts = drawn[name]
        assert len(charts) >= count, (name, charts)
        assert all(c["svg"] and c["width"] > 100 and c["marks"] > 0 for c in charts), charts
