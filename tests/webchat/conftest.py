"""Fixtures for the web chat tests: the server under test and a real browser.

``base_url`` is the page under test: a running bot when CITYLINK_WEBCHAT_URL
is set (e.g. http://127.0.0.1:5000/webhooks/webchat/, the gateway of make run), otherwise the fake bot.
Tests that rely on the fake's fixed answers ask for ``fake_bot`` directly.

The browser is Debian's Chromium (``apt-get install chromium``), driven by the
Playwright driver that ships in the ``playwright`` wheel; Playwright's own
browser download is never used (no network here).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Dict, Iterator

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from .fake_bot import LoopbackServer

CHROMIUM = os.environ.get("CITYLINK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
VIEWPORTS: Dict[str, Dict[str, int]] = {
    "phone": {"width": 390, "height": 844},
    "desktop": {"width": 1280, "height": 860},
}


@pytest.fixture(scope="session")
def fake_bot() -> Iterator[LoopbackServer]:
    """The fake bot, listening on a random loopback port for the whole session."""
    server = LoopbackServer()
    server.start()
    yield server
    server.shutdown()


@pytest.fixture()
def own_fake_bot() -> Iterator[LoopbackServer]:
    """A fake bot for one test alone, so it may be stopped and restarted."""
    server = LoopbackServer()
    server.start()
    yield server
    server.shutdown()


@pytest.fixture(scope="session")
def base_url(request: pytest.FixtureRequest) -> str:
    """The chat page's address: a real bot if CITYLINK_WEBCHAT_URL says so."""
    real = os.environ.get("CITYLINK_WEBCHAT_URL")
    if real:
        return real if real.endswith("/") else real + "/"
    return request.getfixturevalue("fake_bot").base_url


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    """One Playwright driver per test package (tests/webchat, tests/console, ...):
    the sync driver keeps an event loop running in the main thread while it lives,
    so it must be gone before other packages' tests call asyncio.run."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} not found: apt-get install -y chromium fonts-noto-cjk "
            "(or set CITYLINK_CHROMIUM)"
        )
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture(params=sorted(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> str:
    """Run the test once at phone width and once at desktop width."""
    return request.param


@pytest.fixture()
def page(browser: Browser, viewport: str) -> Iterator[Page]:
    """A fresh browser profile (so a fresh sender id) at the viewport's size."""
    context = browser.new_context(
        viewport=VIEWPORTS[viewport],
        locale="zh-CN",
        device_scale_factor=2 if viewport == "phone" else 1,
        is_mobile=viewport == "phone",
        has_touch=viewport == "phone",
    )
    yield context.new_page()
    context.close()


@pytest.fixture()
def screenshot(
    page: Page, viewport: str, request: pytest.FixtureRequest
) -> Callable[[str], None]:
    """Saves ``screenshots/webchat-<test>-<step>-<viewport>.png``."""
    SCREENSHOTS.mkdir(exist_ok=True)
    test = request.node.originalname.removeprefix("test_")

    def take(step: str) -> None:
        page.screenshot(path=SCREENSHOTS / f"webchat-{test}-{step}-{viewport}.png")

    return take
