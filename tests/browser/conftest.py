"""Browser fixtures: the real app served on a free port, and a headless Debian Chromium driving it.

The server shares the test database of the `app` fixture, so users made with `make_user` can log in
and the per-test reset of tests/conftest.py applies. Chromium is the system one (/usr/bin/chromium):
without it the browser tests skip locally and fail in CI.
"""

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import IN_CI

CHROMIUM = Path(os.environ.get("DMS_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "correct-horse-battery"
CSP_WORDS = ("content security policy", "content-security-policy")


@pytest.fixture(scope="session")
def live_server(app):
    """The app served by werkzeug on 127.0.0.1 and a free port, in a background thread; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (the system one); skipped locally and failed in CI when it is missing."""
    if not CHROMIUM.exists():
        message = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium; .ci/run does it)"
        if IN_CI:
            pytest.fail(f"{message}: in CI the browser tests must run", pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory):
    """Where journeys leave their screenshot (DMS_SCREENSHOT_DIR to keep them, else a temp folder)."""
    wanted = os.environ.get("DMS_SCREENSHOT_DIR")
    if wanted:
        Path(wanted).mkdir(parents=True, exist_ok=True)
        return Path(wanted)
    return tmp_path_factory.mktemp("screenshots")


class Console:
    """What the page said on its console, and its uncaught errors."""

    def __init__(self):
        self.messages: list[str] = []
        self.errors: list[str] = []

    def attach(self, page):
        page.on("console", lambda msg: self.messages.append(f"{msg.type}: {msg.text}"))
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def csp_violations(self) -> list[str]:
        return [m for m in self.messages if any(word in m.lower() for word in CSP_WORDS)]


@pytest.fixture
def console():
    return Console()


@pytest.fixture
def new_page(browser, live_server, console):
    """new_page(**context_options) -> a page in a fresh browser context, console watched; all closed after."""
    contexts = []

    def make(**options):
        options.setdefault("base_url", live_server)
        options.setdefault("locale", "zh-CN")
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        console.attach(page)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not console.csp_violations(), console.csp_violations()
    assert not console.errors, console.errors


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def login(live_server):
    """login(page, user, password=...): log in through the form and wait for the home page."""

    def do(page, user, password=PASSWORD):
        page.goto("/login")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", password)
        page.click("[data-testid=login-submit]")
        page.wait_for_url(f"{live_server}/")
        return page

    return do
