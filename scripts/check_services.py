"""Make sure PostgreSQL and Redis answer, and that the project's database exists; say clearly what is wrong."""

import os
import sys
from urllib.parse import urlparse

import psycopg
import redis

DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/anomaly")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def check_redis() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        sys.exit(f"Redis does not answer at {REDIS_URL} ({exc}). Start it, e.g.: redis-server --daemonize yes")


def ensure_database() -> None:
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


if __name__ == "__main__":
    check_redis()
    ensure_database()
    print("PostgreSQL and Redis answer.")
