"""Consumers report in Redis: each writes its state (lag, rate, counts, errors, whether it is connected) every few
seconds into one hash, which `/healthz` and `/metrics` read in the web process (streaming/selectors.py)."""

import json
import time

import redis
from django.conf import settings

# A consumer whose report is older than this many of its intervals is stale: killed, hung, or cut off from Redis.
STALE_INTERVALS = 3
# A stale report is forgotten after this long (a consumer stopped by SIGKILL never removes its own).
FORGET_SECONDS = 600


def consumers_key() -> str:
    """One hash per deployment's cache prefix (so test runs and benchmarks sharing a Redis stay apart)."""
    return f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:streaming:consumers"


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def heartbeat_write(client: redis.Redis, *, name: str, report: dict) -> None:
    """Record one consumer's report, stamped with the time it was made."""
    client.hset(consumers_key(), name, json.dumps(report | {"reported_at": time.time()}))


def heartbeat_remove(client: redis.Redis, *, name: str) -> None:
    """A consumer that stops cleanly takes its report away: it is not missing, it is gone."""
    client.hdel(consumers_key(), name)


def heartbeats_read(client: redis.Redis, *, now: float | None = None) -> dict[str, dict]:
    """Every consumer's latest report, with `age_seconds` and `stale`; reports older than FORGET_SECONDS are
    dropped from the hash."""
    now = time.time() if now is None else now
    reports, forgotten = {}, []
    for raw_name, raw in client.hgetall(consumers_key()).items():
        name = raw_name.decode()
        try:
            report = json.loads(raw)
            age = now - float(report["reported_at"])
        except (ValueError, KeyError, TypeError):
            forgotten.append(name)
            continue
        if age > FORGET_SECONDS:
            forgotten.append(name)
            continue
        interval = float(report.get("interval_seconds") or 5)
        reports[name] = report | {"age_seconds": round(age, 1), "stale": age > STALE_INTERVALS * interval}
    if forgotten:
        client.hdel(consumers_key(), *forgotten)
    return reports
