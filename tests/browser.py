"""Headless Chromium for browser tests: Debian's ``chromium`` driven by Playwright
for Python (never a browser downloaded by ``playwright install``), and a tiny
static server that gives a test page an origin of its own.

Fixtures (registered for every test by ``tests/conftest.py``):
``chromium`` (one browser per test module: Playwright's sync API keeps an event
loop running in this thread while it is open, which would break later tests that
call ``asyncio.run()``; the console tests use it too), ``browser_page`` (a fresh page per
test) and ``page_origin`` (serves files written to its directory from
another loopback origin).
"""

import functools
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("RECTIFY_TEST_CHROMIUM", "/usr/bin/chromium")


def chromium_missing() -> str | None:
    """Why no browser test can run here, or None."""
    if shutil.which(CHROMIUM) is None:
        return f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (test extra)"
    return None


@pytest.fixture(scope="module")
def chromium():
    reason = chromium_missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--lang=zh-CN"],
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(chromium):
    context = chromium.new_context()
    page = context.new_page()
    yield page
    context.close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *_args) -> None:
        pass


@dataclass
class PageOrigin:
    """Static files from ``directory`` at ``url`` (http://127.0.0.1:<port>)."""

    directory: Path
    url: str

    def page(self, name: str, html: str) -> str:
        (self.directory / name).write_text(html, encoding="utf-8")
        return f"{self.url}/{name}"


@pytest.fixture
def page_origin(tmp_path) -> Iterator[PageOrigin]:
    directory = tmp_path / "site"
    directory.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield PageOrigin(directory, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
