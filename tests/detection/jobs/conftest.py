"""Fixtures of the bulk-job tests: a real Celery worker on this run's test database and queue."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[3]


class Worker:
    """`celery -A anomaly_site worker` in its own process group, against this test database and queue."""

    def __init__(self, queue: str):
        self.queue = queue
        self.process: subprocess.Popen | None = None

    def env(self) -> dict:
        db = settings.DATABASES["default"]
        url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        return os.environ | {
            "DJANGO_SETTINGS_MODULE": "anomaly_site.test_settings",
            "DATABASE_URL": url,
            "TEST_DB_NAME": db["NAME"],
            "CELERY_VISIBILITY_TIMEOUT": "4",
            "JOB_CHUNK_LEASE_SECONDS": "4",
            "JOB_CHUNK_ROWS": "100",
        }

    def start(self) -> "Worker":
        command = [sys.executable, "-m", "celery", "-A", "anomaly_site", "worker", "-Q", self.queue, "-c", "1"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING"]
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env(), start_new_session=True)
        return self

    def kill(self) -> None:
        """SIGKILL the whole process group: the worker and its pool child die mid-task, acking nothing."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def celery_worker_process():
    """Start workers on demand (several in turn, to kill one and start the next); all stopped at the end."""
    started: list[Worker] = []
    connection.close()  # the worker opens its own; ours reopens on next use

    def start() -> Worker:
        worker = Worker(settings.CELERY_TASK_DEFAULT_QUEUE).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def wait_for(predicate, *, timeout: float = 60, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not true after {timeout} s: {predicate}")
