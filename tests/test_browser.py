"""In a real browser (Debian's chromium, driven by Playwright): the report draws its charts with
the network cut off, and the workshop's FCR changes when a slider moves. Screenshots are saved
in tests/artifacts/ for a person to look at."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS, ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is installed by `make test`"
)
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def _cut_off(context, allowed: tuple[str, ...]) -> list[str]:
    """Abort every request that does not start with an allowed prefix; return what was tried."""
    tried: list[str] = []

    def route(r):
        if r.request.url.startswith(allowed):
            r.continue_()
        else:
            tried.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    return tried


def _images_drawn(page) -> list[int]:
    return page.eval_on_selector_all(
        "img", "imgs => imgs.map(i => (i.complete ? i.naturalWidth : 0))"
    )


def test_report_pages_draw_their_charts_offline(browser, sample_report):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    tried = _cut_off(context, ("file://",))
    page = context.new_page()
    page.goto(sample_report.as_uri())
    assert "First contact resolution" in page.inner_text("h1")
    page.screenshot(path=str(ARTIFACTS / "report-index.png"), full_page=True)
    link = page.locator("a").first
    link.click()
    page.wait_for_load_state("load")
    widths = _images_drawn(page)
    assert len(widths) >= 3 and all(w > 200 for w in widths), widths
    page.screenshot(path=str(ARTIFACTS / "report-notebook.png"), full_page=True)
    assert tried == [], f"requests left the machine: {tried}"
    context.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def voila_url():
    port = _free_port()
    env = {**os.environ, "FCRLAB_SALT": "fcrlab-public-sample-salt"}
    voila = Path(sys.executable).with_name("voila")
    process = subprocess.Popen(
        [
            str(voila),
            "notebooks/04_workshop.ipynb",
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(url + "api", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_workshop_fcr_follows_the_window_slider(browser, voila_url):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    # Voila links Font Awesome from a CDN (icons only): cut off, the app must still work.
    _cut_off(context, (voila_url,))
    page = context.new_page()
    page.goto(voila_url, timeout=120_000)
    fcr = page.locator("#fcr-value")
    fcr.wait_for(timeout=120_000)
    page.wait_for_function(
        "() => [...document.images].filter(i => i.naturalWidth > 200).length >= 3",
        timeout=60_000,
    )
    before = fcr.inner_text()
    page.screenshot(path=str(ARTIFACTS / "workshop-before.png"), full_page=True)
    handle = page.locator(".noUi-handle").first
    handle.focus()
    for _ in range(3):  # 7d → 72h → 48h → 24h
        page.keyboard.press("ArrowLeft")
    # Each step redraws; wait for the last one (the numbers name their window).
    page.wait_for_function("() => document.body.innerText.includes('window 24h')", timeout=60_000)
    page.wait_for_timeout(1500)  # let the redrawn charts arrive before the screenshot
    after = fcr.inner_text()
    page.screenshot(path=str(ARTIFACTS / "workshop-after.png"), full_page=True)
    as_number = lambda text: float(text.split()[1].rstrip("%"))  # noqa: E731
    assert as_number(after) > as_number(before), (before, after)  # a shorter window: higher FCR
    context.close()
