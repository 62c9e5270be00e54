"""Real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright against the app served
for real by werkzeug in a background thread, on the test PostgreSQL/Redis (tests/conftest.py)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# No network beyond localhost here: nothing Chromium would fetch on its own.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "pakn-demo-2026"


@pytest.fixture(scope="session")
def live_server(app: Any) -> Iterator[str]:
    """The test app on a free port, threaded, for the whole session."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} missing (Debian package chromium, scripts/apt-test-packages.txt)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Any, live_server: str, db: Any) -> Iterator[Callable[[], Any]]:
    """Each call: a fresh browser context (own cookies) and page, closed after the test."""
    contexts: list[Any] = []

    def make() -> Any:
        context = browser.new_context(base_url=live_server, locale="vi-VN",
                                      viewport={"width": 1280, "height": 900},
                                      accept_downloads=True)  # fmt: skip
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def shot(page: Any, name: str) -> Path:
    """A full-page screenshot kept in test-artifacts/screenshots/ for people to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(
    page: Any, username: str, password: str = PASSWORD, *, second_factor: bool = False
) -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form.narrow button[type=submit]")
    page.wait_for_load_state()
    if second_factor:  # the password was right; the code page comes next
        assert "/login/2fa" in page.url, page.content()[:2000]
    else:
        assert "/login" not in page.url, page.content()[:2000]
