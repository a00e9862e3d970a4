"""Make sure PostgreSQL and Redis answer, and that the project's database exists; say clearly what is wrong. NATS
(NATS_URL, '' for none) is optional: `make run` has a streaming consumer only when it answers.

With EMBEDDED_SERVICES=1 (`make run` and `make test` set it) and settings that are not production ones, a service
that does not answer on this machine's loopback address is started there from a pip package (core/embedded.py),
one line each. `check_services.py stop` stops the embedded servers (`make stop-embedded`).
"""

import os
import sys
from pathlib import Path
from urllib.parse import urlparse

import psycopg
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import embedded  # noqa: E402

DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/anomaly")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")  # settings.NATS_URL's default


def start_embedded(ensure, url: str) -> None:
    """Start the embedded server for `url` if it may start here and nothing listens; otherwise leave it be."""
    if embedded.refusal() is not None:
        return
    try:
        line = ensure(url)
    except embedded.EmbeddedError as exc:
        print(exc, file=sys.stderr)
        return
    if line:
        print(line)


def check_redis() -> None:
    start_embedded(embedded.ensure_redis, REDIS_URL)
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        sys.exit(f"Redis does not answer at {REDIS_URL} ({exc}). Start it, e.g.: redis-server --daemonize yes")


def ensure_database() -> None:
    start_embedded(embedded.ensure_postgres, DATABASE_URL)
    url = urlparse(DATABASE_URL)
    name = url.path.lstrip("/") or "anomaly"
    admin_url = url._replace(path="/postgres").geturl()
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
                print(f"Created database {name}.")
    except psycopg.OperationalError as exc:
        sys.exit(
            f"PostgreSQL does not answer at {url.hostname}:{url.port or 5432} ({exc}).\n"
            "Start it, e.g.: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        )


def check_nats() -> bool:
    """Whether NATS answers (after starting the embedded one where it may start); never fails the check."""
    start_embedded(embedded.ensure_nats, NATS_URL)
    host, port = embedded.address(NATS_URL.split(",")[0], 4222)
    return embedded.answers(host, port, timeout=3)


if __name__ == "__main__":
    if sys.argv[1:] == ["stop"]:
        stopped = embedded.stop()
        print(f"Stopped the embedded {', '.join(stopped)}." if stopped else "No embedded server is running.")
        sys.exit(0)
    if os.environ.get("EMBEDDED_SERVICES") == "1" and embedded.refusal() is not None:
        print(f"No embedded servers: {embedded.refusal()}.", file=sys.stderr)
    check_redis()
    ensure_database()
    if NATS_URL and check_nats():
        print("PostgreSQL, Redis and NATS answer.")
    else:
        print("PostgreSQL and Redis answer." + (f" NATS does not answer at {NATS_URL}." if NATS_URL else ""))
