"""Browser tests: a Daphne child process serves the app against the test database; Playwright drives
Debian's Chromium (never a downloaded browser)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.topology.runtime.harness import database_url

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make are still plain sync code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
# Websocket groups of this run only: Daphne children and engines inherit the prefix (the Redis server is shared).
os.environ.setdefault("CHANNELS_PREFIX", f"fye2e{uuid.uuid4().hex[:10]}")

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-results" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class _NoSettingsOverride:
    def enable(self) -> None:
        pass

    def disable(self) -> None:
        pass


@dataclass
class LiveServer:
    """Replaces pytest-django's thread live server with a Daphne process (websockets need ASGI)."""

    url: str
    process: subprocess.Popen
    # pytest-django's autouse helper toggles this on any fixture named live_server; a child process has no
    # in-process settings to override.
    _live_server_modified_settings: _NoSettingsOverride = field(default_factory=_NoSettingsOverride)

    def __str__(self) -> str:
        return self.url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url_host: str, port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited with {process.returncode}")
        try:
            with socket.create_connection((url_host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("daphne did not start listening")


def start_daphne(port: int, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A Daphne child serving admin_ui.asgi on 127.0.0.1:`port`, listening when this returns."""
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "admin_ui.settings", **(env or {})}
    log = (ROOT / "test-results").resolve()
    log.mkdir(exist_ok=True)
    with (log / "daphne.log").open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "admin_ui.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    _wait_for("127.0.0.1", port, process)
    return process


def stop_daphne(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def live_server(django_db_setup, django_db_blocker) -> Iterator[LiveServer]:
    port = _free_port()
    process = start_daphne(port)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", process=process)
    finally:
        stop_daphne(process)


@pytest.fixture(scope="session")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright_instance):
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def new_page(browser, live_server) -> Iterator[Callable[[], object]]:
    """Open pages in fresh browser contexts (separate cookies: one per user)."""
    contexts = []

    def build():
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield build
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def login(live_server) -> Callable[[object, object], None]:
    """Log `user` in on `page` by giving its context a real session cookie."""

    def do_login(page, user) -> None:
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        page.context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}]
        )

    return do_login


@pytest.fixture
def screenshot() -> Callable[[object, str], Path]:
    def take(page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
