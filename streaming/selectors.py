"""What the web process reads of the consumers: their reports in Redis, for `/healthz` and `/metrics`."""

from core import metrics
from streaming.heartbeat import heartbeats_read, redis_client

# The report fields /healthz shows of each consumer (anyone may ask: never its organisation or source).
HEALTH_FIELDS = (
    "broker",
    "subject",
    "state",
    "lag",
    "rate_per_s",
    "messages",
    "decisions",
    "dead_letters",
    "errors",
    "last_error",
    "age_seconds",
    "stale",
)


def consumers_reports() -> dict[str, dict]:
    return heartbeats_read(redis_client())


def consumers_health() -> dict:
    """ok unless a consumer has stopped reporting or is reconnecting to its broker or PostgreSQL; no consumer at
    all is fine (streaming is optional)."""
    reports = consumers_reports()
    consumers = {name: {key: report.get(key) for key in HEALTH_FIELDS} for name, report in sorted(reports.items())}
    troubled = [name for name, report in consumers.items() if report["stale"] or report["state"] != "running"]
    return {"ok": not troubled, "consumers": consumers}


def consumers_gauge():
    """The consumers' metric families, read from their reports at every scrape (registered by the app)."""
    try:
        reports = consumers_reports()
    except Exception:  # noqa: BLE001 - a scrape without Redis shows the other metrics
        return []
    return metrics.stream_consumer_families(reports)
