"""Fixtures of the partner API tests: tokens per scope, an active model, and a real Celery worker."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from rest_framework.test import APIClient

from accounts.services import partner_token_create, partner_token_revoke
from detection.models import ModelVersion
from detection.scoring import registry
from detection.training.services import model_version_train
from tests.detection.conftest import START, store_history
from tests.factories import default_organisation

ROOT = Path(__file__).resolve().parents[2]
MODEL_FIELDS = ("algorithms", "parameters", "feature_names", "metrics", "artifact", "artifact_format", "training_rows")


def prototype_body(n: int = 1, **changes) -> dict:
    """A request body exactly as the prototype's README sends it (user_id, is_online, transaction_count_1h, …)."""
    body = {
        "transaction_id": f"TXN_{n:08d}",
        "timestamp": "2026-03-21 14:30:00",
        "amount": 150.50,
        "merchant_category": "retail",
        "location_distance_km": 5.2,
        "is_online": 0,
        "time_since_last_transaction_minutes": 120.0,
        "is_weekend": 0,
        "hour": 14,
        "day_of_week": 3,
        "transaction_count_1h": 2,
        "total_amount_24h": 300.0,
        "user_id": 1234,
    }
    return body | changes


def client_for(secret: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return api


@pytest.fixture
def make_partner(db):
    """A client with a fresh partner token of the given scopes (and its own source)."""

    def make(*scopes: str, name: str = "acme-bank") -> APIClient:
        token, secret = partner_token_create(organisation=default_organisation(), name=name, scopes=list(scopes))
        api = client_for(secret)
        api.token = token
        return api

    return make


@pytest.fixture
def scorer(make_partner):
    return make_partner("score", "label", "read")


@pytest.fixture
def other_partner(make_partner):
    return make_partner("score", "label", "read", name="other-bank")


@pytest.fixture
def revoked_client(make_partner):
    api = make_partner("score", "label", "read")
    partner_token_revoke(token=api.token)
    return api


@pytest.fixture
def outsider_client(client, outsider):
    client.force_login(outsider)
    return client


@pytest.fixture(scope="session")
def trained_model(django_db_setup, django_db_blocker) -> dict:
    """Train once per session on a small consistent history, keep the fitted artifact, undo the rows."""
    with django_db_blocker.unblock(), transaction.atomic():
        store_history(accounts=20, days=10)
        version = model_version_train(organisation=default_organisation(), until=START + timedelta(days=10), seed=0)
        fields = {name: getattr(version, name) for name in MODEL_FIELDS}
        transaction.set_rollback(True)
    fields["artifact"] = bytes(fields["artifact"])
    return fields


@pytest.fixture
def history(db):
    return store_history(accounts=20, days=10)


@pytest.fixture
def active_model(db, trained_model, history) -> ModelVersion:
    """The session's trained model, active, over the history it was trained on."""
    registry.active_model_changed()
    version = ModelVersion.objects.create(
        organisation=default_organisation(), version=7, status=ModelVersion.Status.ACTIVE, **trained_model
    )
    registry.active_model_changed()
    yield version
    registry.active_model_changed()


@pytest.fixture
def no_active_model(db):
    registry.active_model_changed()
    yield
    registry.active_model_changed()


# ------------------------------------------------------------------ a real Celery worker


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
