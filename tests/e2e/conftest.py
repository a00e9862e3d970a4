"""Browser tests: Debian's Chromium driven by Playwright against `make run`'s server (gunicorn managing a uvicorn
worker) serving HTTP and websockets.

pytest-django's `live_server` speaks WSGI only, so the server runs in a subprocess on a free port against the test
database (and this run's Redis db and channel prefix), which the tests fill with committed rows
(`django_db(transaction=True)`).
"""

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings

from anomaly_site.servers import web_command, web_environment
from tests.conftest import stop_process

CHROMIUM = "/usr/bin/chromium"
# A loaded machine (CI shares its two cores with the worker and the browser) can take a while to import the site.
SERVER_START_SECONDS = 90
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
# The screenshots README.md and docs/user-guide.md show: saved again into docs/images/ when DOC_SCREENSHOTS=1, at a
# fixed viewport so the committed PNGs stay small and alike (only on request: the pages show times, which change).
DOC_IMAGES = Path(settings.BASE_DIR) / "docs" / "images"
DOC_SHOTS = {
    "queue",
    "drift",
    "queue-decision-dialog",
    "transaction",
    "performance",
    "upload-mapping",
    "upload-job-done",
    "backtest-report",
    "try-transaction",
    "version-compare",
    "upload-analysis",
}
DOC_VIEWPORT = {"width": 1280, "height": 800}
PASSWORD = "pass-word-123"  # tests.factories.UserFactory's


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(port: int) -> dict[str, str]:
    db = settings.DATABASES["default"]
    inherited = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    return {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "anomaly_site.test_settings",  # same password hasher as the factories
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DB_CONN_MAX_AGE": "0",
        "REDIS_URL": settings.REDIS_URL,
        "CHANNELS_PREFIX": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
        "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        "CELERY_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        "DEBUG": "1",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CSRF_TRUSTED_ORIGINS": f"http://127.0.0.1:{port}",
        "LOG_LEVEL": "WARNING",
    }


def _wait_until_up(url: str, process: subprocess.Popen, log_path: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the web server exited with {process.returncode}; see {log_path}")
        try:
            urllib.request.urlopen(url, timeout=1)  # noqa: S310 - our own local server
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer means it is serving
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the web server did not start within {SERVER_START_SECONDS} s")


@pytest.fixture(scope="session")
def asgi_server(django_db_setup):
    """Base URL of the server `make run` starts (anomaly_site/servers.py) serving the project against the test
    database."""
    ARTIFACTS.mkdir(exist_ok=True)
    port = _free_port()
    log_path = ARTIFACTS / f"web-{port}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            # make run's server, with one worker: a test's data and the page it loads meet in one process's caches
            web_command(host="127.0.0.1", port=port, workers=1),
            cwd=settings.BASE_DIR,
            env=web_environment(_server_env(port)),
            start_new_session=True,  # stopped with its workers (tests.conftest.stop_process)
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_up(
            f"http://127.0.0.1:{port}/accounts/login/", process, log_path, time.monotonic() + SERVER_START_SECONDS
        )
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process, timeout=10)


@pytest.fixture(scope="module")
def browser():
    """Chromium for one test module. Playwright's sync API keeps an event loop running in this thread, so the
    ORM's async-safety check is relaxed while it lives (the tests touch the database between browser steps),
    and restored when the module's browser closes."""
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    )
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_page(browser, asgi_server):
    """A factory of pages, each in its own browser context (its own cookies: its own user)."""
    contexts = []

    def make():
        context = browser.new_context(base_url=asgi_server, viewport={"width": 1440, "height": 900})
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def log_in(page, username: str, next_path: str = "/review/") -> None:
    page.goto(f"/accounts/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def in_thread(function, *args, **kwargs):
    """Run database work that broadcasts after commit off Playwright's thread, whose running event loop would
    refuse the broadcast's `async_to_sync`; the thread's connection is closed afterwards."""
    from django.db import connection

    def run():
        try:
            return function(*args, **kwargs)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result(timeout=60)


def wait_live(page) -> None:
    """Wait until the queue's websocket is open, so broadcasts from now on reach this page."""
    page.wait_for_selector("#live-status.on")


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    if name in DOC_SHOTS and os.environ.get("DOC_SCREENSHOTS") == "1":
        doc_screenshot(page, name)


def doc_screenshot(page, name: str) -> None:
    """The visible part of the page at DOC_VIEWPORT into docs/images/; the page's own viewport is put back after."""
    size = page.viewport_size
    page.set_viewport_size(DOC_VIEWPORT)
    try:
        page.screenshot(path=str(DOC_IMAGES / f"{name}.png"))
    finally:
        page.set_viewport_size(size)
