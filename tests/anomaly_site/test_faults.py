"""Faults with real processes: `make run`'s server serving the project against a PostgreSQL port where nothing
listens answers 503 with Retry-After (JSON on API paths, the styled page elsewhere); against a Redis that accepts
connections but never answers, a job upload is refused with 503 and its job is failed, never left pending. (A worker
killed mid-job: tests/detection/jobs/test_jobs_takeover.py.)"""

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from anomaly_site.servers import web_command, web_environment
from detection.models import ScoringJob
from tests.conftest import stop_process
from tests.detection.jobs.jobs_data import MAPPING, job_frame
from tests.e2e.conftest import SERVER_START_SECONDS

ROOT = Path(settings.BASE_DIR)
LOGS = ROOT / "test-artifacts"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def this_runs_database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


class Server:
    """`make web`'s server on a free port with the given environment, DEBUG off (unset), as `make web` runs it."""

    def __init__(self, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        inherited = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")}
        self.env = inherited | {
            "DJANGO_SETTINGS_MODULE": "anomaly_site.test_settings",
            "PLAIN_HTTP": "1",
            "LOG_LEVEL": "WARNING",
            "CHANNELS_PREFIX": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
            "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
            "CELERY_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
            "CSRF_TRUSTED_ORIGINS": self.url,
            **env,
        }

    def __enter__(self) -> "Server":
        LOGS.mkdir(exist_ok=True)
        with open(LOGS / f"faults-web-{self.port}.log", "w") as log:
            self.process = subprocess.Popen(
                web_command(host="127.0.0.1", port=self.port, workers=1),
                cwd=ROOT,
                env=web_environment(self.env),
                start_new_session=True,  # stopped with its workers (tests.conftest.stop_process)
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the web server exited; see {log.name}"
            try:
                # With PostgreSQL down a request waits for the pool's connection (DB_POOL_TIMEOUT) before its 503.
                self.request("GET", "/accounts/login/", timeout=15)
                return self
            except OSError:
                time.sleep(0.3)
        raise AssertionError(f"the web server did not start within {SERVER_START_SECONDS} s")

    def __exit__(self, *exc) -> None:
        stop_process(self.process, timeout=10)

    def request(self, method: str, path: str, *, body: bytes | None = None, headers=None, timeout: float = 60):
        """(status, headers, body) of any answer, errors included."""
        request = urllib.request.Request(self.url + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - our own local server
                return answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()


def assert_json_503(status, headers, body) -> None:
    assert status == 503
    assert headers["Retry-After"] == "30"
    assert headers["Content-Type"] == "application/json"
    answer = json.loads(body)
    assert answer["status"] == 503 and answer["request_id"] == headers["X-Request-ID"]
    assert [e["code"] for e in answer["errors"]] == ["unavailable"]


def test_with_postgresql_down_the_api_answers_503_json_and_pages_the_styled_503():
    dead = f"postgres://postgres@127.0.0.1:{free_port()}/anomaly"
    with Server(DATABASE_URL=dead) as server:
        bearer = {"Authorization": "Bearer atk_not-checked-without-a-database", "Content-Type": "application/json"}
        score = json.dumps({"transaction_id": "T1", "timestamp": "2026-03-21T10:00:00Z", "account_id": "A7"})

        assert_json_503(*server.request("POST", "/api/v1/transactions/score", body=score.encode(), headers=bearer))
        assert_json_503(*server.request("GET", "/api/v1/jobs/1", headers=bearer))
        status, headers, body = server.request("GET", "/review/", headers={"Cookie": "sessionid=" + "a" * 32})

    assert (status, headers["Retry-After"]) == (503, "30")
    assert headers["Content-Type"].startswith("text/html")
    assert b"Sentinel is briefly unavailable" in body and b'href="/static/css/app.css"' in body
    assert b"Traceback" not in body and b"DATABASES" not in body


@pytest.fixture
def silent_redis():
    """A port that accepts connections (the kernel's backlog) and never answers a byte, as a hung Redis does."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def multipart(fields: dict[str, str], file_name: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
        f"Content-Type: text/csv\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@pytest.mark.django_db(transaction=True)
def test_with_redis_silent_a_job_upload_is_refused_503_and_its_job_failed_not_pending(partner_token, silent_redis):
    token, secret = partner_token
    body, content_type = multipart({"mapping": json.dumps(MAPPING)}, "rows.csv", job_frame(20).to_csv().encode())
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": content_type}

    with Server(DATABASE_URL=this_runs_database_url(), REDIS_URL=silent_redis) as server:
        started = time.monotonic()
        status, answer_headers, answer = server.request("POST", "/api/v1/jobs", body=body, headers=headers)
        took = time.monotonic() - started

    assert_json_503(status, answer_headers, answer)
    assert took < 45
    job = ScoringJob.objects.get(source=token.source)
    assert job.status == ScoringJob.Status.FAILED
    assert "job queue did not answer" in job.error
    assert not (Path(settings.MEDIA_ROOT) / job.file_path).exists()
