"""Fixtures for alert tests: a real HTTP receiver on 127.0.0.1 and a real Celery worker on the test database.

`celery_worker_process` is reusable by any test that needs a worker: it starts `celery -A anomaly_site worker`
against the TEST database of this run (so use it with `django_db(transaction=True)`), the same Redis db, queue and
channel prefix as the tests, and stops it at the end of the test module.
"""

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from anomaly_site.celery import app as celery_app
from tests.conftest import stop_process

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook receiver: answers with the scripted codes in turn (then `default_code`), or hangs."""

    url: str = ""
    script: list[int] = field(default_factory=list)
    default_code: int = 200
    hang_seconds: float = 0.0
    requests: list[ReceivedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_code(self) -> int:
        with self.lock:
            return self.script.pop(0) if self.script else self.default_code

    def wait_for(self, count: int, timeout: float = 30.0) -> list[ReceivedRequest]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.requests)


def _handler_for(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.requests.append(ReceivedRequest(self.path, dict(self.headers), body))
            if receiver.hang_seconds:
                time.sleep(receiver.hang_seconds)
            code = receiver.next_code()
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def receiver_factory():
    servers = []

    def start(**kwargs) -> Receiver:
        receiver = Receiver(**kwargs)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(receiver))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        servers.append(server)
        return receiver

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver(receiver_factory) -> Receiver:
    return receiver_factory()


def _worker_env(database_name: str) -> dict[str, str]:
    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{database_name}"
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "anomaly_site.test_settings",
        "DATABASE_URL": url,
        "DB_CONN_MAX_AGE": "0",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        "CHANNELS_PREFIX": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
        "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        "ALERTS_RETRY_BACKOFF": "0.2",
        "ALERTS_DELIVERY_TIMEOUT": "1",
        "ALERTS_MAX_ATTEMPTS": "4",
    }


def _wait_until_ready(process: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"celery worker exited with {process.returncode}")
        if celery_app.control.ping(timeout=0.5):
            return
    raise RuntimeError("celery worker did not answer a ping in time")


@pytest.fixture(scope="module")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real `celery worker` (2 processes) on this run's test database, queue and Redis db, for one test module
    (a worker left running would take the tasks of other modules' tests)."""
    with django_db_blocker.unblock():
        database_name = connection.settings_dict["NAME"]
    celery_app.control.purge()
    log_path = tmp_path_factory.mktemp("celery") / "worker.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed at teardown
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "anomaly_site",
            "worker",
            "--concurrency=2",
            "--loglevel=WARNING",
            "-Q",
            settings.CELERY_TASK_DEFAULT_QUEUE,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=REPO_ROOT,
        env=_worker_env(database_name),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until_ready(process)
        yield process
    finally:
        stop_process(process, timeout=20)
        log.close()
        celery_app.control.purge()  # retries still waiting must not reach the next module's worker
