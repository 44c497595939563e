"""A live server on a fresh SQLite database and headless Chromium (Debian's), via Playwright.

Every page a test opens has the network to anything but 127.0.0.1 blocked and
records failed requests, HTTP errors and console errors; ``watch.assert_clean()``
fails the test on any of them. Endpoints of the contract's second round that a
deployment may not serve yet answer 404/405 and the console shows them as "not
available": those answers are the only ones tolerated by default.
"""

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from app.console.router import console_settings
from app.db import make_engine
from app.main import create_app
from app.settings import get_settings
from tests.conftest import ADMIN_TOKEN, _set_env
from tests.live import LiveServer

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VIEWPORT = {"width": 1366, "height": 768}
NOT_YET_SERVED = re.compile(
    r"/api/v1/(reports/period|reports/circular|items/batch|items/\d+/measures|calendar/years/\d+)"
)


@pytest.fixture
def live(_templates, tmp_path, monkeypatch):
    """The service on 127.0.0.1 (SQLite, test clock on); yields its base URL."""
    path = tmp_path / "rectify.db"
    shutil.copy(_templates["sqlite"], path)
    url = f"sqlite:///{path}"
    _set_env(monkeypatch, url, tmp_path)
    console_settings.cache_clear()
    engine = make_engine(url)
    try:
        with LiveServer(create_app(engine, migrate=False)) as server:
            yield server.url
    finally:
        engine.dispose()
        get_settings.cache_clear()
        console_settings.cache_clear()


@pytest.fixture
def admin(live):
    with httpx.Client(
        base_url=live + "/api/v1", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
    ) as c:
        yield c


@pytest.fixture(scope="module")
def browser(chromium):
    """Chromium for one test module (``tests/browser.py``'s fixture; zh-CN)."""
    return chromium


@dataclass
class Watch:
    """What went wrong in a page: failed requests, HTTP errors, console errors."""

    failed: list[str] = field(default_factory=list)
    http_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    tolerated: list[re.Pattern] = field(default_factory=lambda: [NOT_YET_SERVED])

    def tolerate(self, pattern: str) -> None:
        self.tolerated.append(re.compile(pattern))

    def _ok(self, url: str, status: int | None = None) -> bool:
        if status is not None and status not in (404, 405) and NOT_YET_SERVED.search(url):
            return False
        return any(p.search(url) for p in self.tolerated)

    def on_response(self, response) -> None:
        if response.status >= 400 and not self._ok(response.url, response.status):
            self.http_errors.append(f"{response.status} {response.request.method} {response.url}")

    def on_console(self, msg) -> None:
        if msg.type != "error":
            return
        url = (msg.location or {}).get("url", "")
        if msg.text.startswith("Failed to load resource") and self._ok(url):
            return
        self.console_errors.append(f"{msg.text} @ {url}")

    def assert_clean(self) -> None:
        assert not self.failed, self.failed
        assert not self.http_errors, self.http_errors
        assert not self.console_errors, self.console_errors


def _local_only(route) -> None:
    if urlsplit(route.request.url).hostname == "127.0.0.1" or route.request.url.startswith(
        ("data:", "blob:")
    ):
        route.continue_()
    else:
        route.abort("blockedbyclient")


@pytest.fixture
def open_page(browser):
    """``open_page() -> (page, watch)``: a fresh browser context (its own sessionStorage)."""
    contexts = []

    def make():
        context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", accept_downloads=True)
        contexts.append(context)
        context.route("**/*", _local_only)
        page = context.new_page()
        watch = Watch()
        page.on("requestfailed", lambda r: watch.failed.append(f"{r.url} {r.failure}"))
        page.on("response", watch.on_response)
        page.on("console", watch.on_console)
        page.on("pageerror", lambda e: watch.console_errors.append(f"pageerror: {e}"))
        page.set_default_timeout(15000)
        return page, watch

    yield make
    for c in contexts:
        c.close()


def sign_in(page, base: str, token: str, route: str = "/dashboard") -> None:
    page.goto(f"{base}/console/#{route}")
    page.fill("#token", token)
    page.click("form button[type=submit]")
    wait_ready(page, route.split("?")[0])


def wait_ready(page, path: str) -> None:
    try:
        page.wait_for_selector(f'body[data-ready="{path}"]', state="attached")
    except Exception as exc:
        raise AssertionError(f"{path} never rendered: {page.inner_text('body')[:500]!r}") from exc


def goto(page, base: str, route: str) -> None:
    """Navigate inside the signed-in console and wait until the page has rendered."""
    page.evaluate("document.body.removeAttribute('data-ready')")
    page.evaluate(
        "r => { if (location.hash === r) dispatchEvent(new HashChangeEvent('hashchange'));"
        " else location.hash = r; }",
        "#" + route,
    )
    wait_ready(page, route.split("?")[0])


def click_to(page, selector: str, path: str) -> None:
    """Click a link or button that moves to another view; wait until that view has rendered."""
    page.evaluate("document.body.removeAttribute('data-ready')")
    page.click(selector)
    wait_ready(page, path)
