"""Prometheus metrics: scoring latency, scored and flagged counts per organisation and model version, decisions by
action and rule hits by rule, job progress and review-queue depth per organisation. An organisation is labelled
with its name (its slug).

Counters and histograms live in each process. Set PROMETHEUS_MULTIPROC_DIR (an empty, writable directory,
cleared at deploy) to sum them over every web and worker process on the machine; without it /metrics shows
the counts of the process that answers. Job progress and the review-queue depth are read from the database
at scrape time, so they are right whichever process answers.

/metrics answers requests from 127.0.0.1 or ::1 (METRICS_ALLOW_LOCAL, on by default; turn it off behind a
proxy on the same host), and any request carrying `Authorization: Bearer $METRICS_TOKEN` when that is set.
"""

import hmac
import os
from collections.abc import Callable, Iterable, Mapping

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import Metric

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

SCORING_SECONDS = Histogram(
    "anomaly_scoring_seconds",
    "Time to store and score one request or job chunk (ingest, features, model, storage), by kind.",
    ["kind"],
    buckets=LATENCY_BUCKETS,
)
# Model versions are numbered per organisation, so a version is only told apart with its organisation.
SCORED = Counter(
    "anomaly_scored",
    "Transactions scored, by organisation, model version and kind.",
    ["organisation", "model_version", "kind"],
)
FLAGGED = Counter(
    "anomaly_flagged",
    "Transactions flagged for review, by organisation, model version and kind.",
    ["organisation", "model_version", "kind"],
)

# Decisions are counted as their scores are stored (scores a version had stored before are not counted again).
DECISIONS = Counter(
    "anomaly_decisions",
    "Scores decided, by organisation and decision (allow, review or block).",
    ["organisation", "action"],
)
RULE_HITS = Counter(
    "anomaly_rule_hits",
    "Scores a rule matched (tag rules included), by organisation and rule name.",
    ["organisation", "rule"],
)


def decisions_recorded(*, organisation: str, decisions: Mapping[str, int], rule_hits: Mapping[str, int]) -> None:
    """Count one organisation's stored decisions by action and its rules' hits by rule name."""
    for action, count in decisions.items():
        DECISIONS.labels(organisation=organisation, action=action).inc(count)
    for rule, count in rule_hits.items():
        RULE_HITS.labels(organisation=organisation, rule=rule).inc(count)


def scores_recorded(scores: Iterable, *, organisation: str, path: str, seconds: float) -> None:
    """Count one organisation's freshly stored scores (objects with .model_version.version and .is_anomaly) and the
    time they took."""
    SCORING_SECONDS.labels(kind=path).observe(seconds)
    scored: dict[int, list[int]] = {}
    for score in scores:
        counts = scored.setdefault(score.model_version.version, [0, 0])
        counts[0] += 1
        counts[1] += bool(score.is_anomaly)
    for version, (total, flagged) in scored.items():
        SCORED.labels(organisation=organisation, model_version=str(version), kind=path).inc(total)
        if flagged:
            FLAGGED.labels(organisation=organisation, model_version=str(version), kind=path).inc(flagged)


def counts_recorded(
    *, organisation: str, model_version: int, scored: int, flagged: int, kind: str, seconds: float
) -> None:
    """The same as scores_recorded, from counts (a job chunk does not keep its Score objects around)."""
    SCORING_SECONDS.labels(kind=kind).observe(seconds)
    SCORED.labels(organisation=organisation, model_version=str(model_version), kind=kind).inc(scored)
    if flagged:
        FLAGGED.labels(organisation=organisation, model_version=str(model_version), kind=kind).inc(flagged)


Gauge = Callable[[], Iterable[Metric]]
_gauges: list[Gauge] = []


def gauges_register(gauge: Gauge) -> None:
    """Add a function whose metric families are read from the database at every scrape (apps register theirs
    when Django starts: the review queue's depth, unfinished jobs' rows); registering one twice has no effect."""
    if gauge not in _gauges:
        _gauges.append(gauge)


class DatabaseCollector:
    """Gauges read at scrape time, from every registered gauge function."""

    def collect(self):
        for gauge in _gauges:
            yield from gauge()


_database_registry = CollectorRegistry(auto_describe=False)
_database_registry.register(DatabaseCollector())


def exposition() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        process_registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(process_registry)
    else:
        process_registry = REGISTRY
    return generate_latest(process_registry) + generate_latest(_database_registry)


def metrics_allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip(), token):
        return True
    allow_local = getattr(settings, "METRICS_ALLOW_LOCAL", True)
    return allow_local and request.META.get("REMOTE_ADDR") in ("127.0.0.1", "::1")


@require_GET
def metrics_view(request):
    if not metrics_allowed(request):
        body = {"errors": [{"field": "Authorization", "reason": "Metrics are not public.", "code": "forbidden"}]}
        return JsonResponse(body | {"status": 403}, status=403)
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


# Streaming consumers (streaming/): each reports to Redis, and every scrape reads the reports, whichever process
# answers. Labels: the consumer's name (host and pid unless --name), broker kind, subject or queue, organisation.
STREAM_GAUGES = {
    "lag": ("anomaly_stream_consumer_lag", "Messages waiting for the consumer's durable consumer or queue."),
    "rate_per_s": ("anomaly_stream_consumer_rate", "Messages the consumer handled per second, over its last report."),
    "up": ("anomaly_stream_consumer_up", "1 while the consumer reports in time and is connected, else 0."),
    "age_seconds": ("anomaly_stream_consumer_report_age_seconds", "Seconds since the consumer's last report."),
}
STREAM_COUNTERS = {
    "messages": ("anomaly_stream_consumer_messages", "Messages the consumer handled and acknowledged."),
    "decisions": ("anomaly_stream_consumer_decisions", "Decisions the consumer published."),
    "dead_letters": ("anomaly_stream_consumer_dead_letters", "Messages the consumer sent to the dead letters."),
    "errors": ("anomaly_stream_consumer_errors", "Broker or database errors the consumer met (each retried)."),
}


def stream_consumer_families(reports: Mapping[str, Mapping]) -> list[Metric]:
    """Gauge and counter families of the consumers' reports ({name: report})."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    labels = ["consumer", "broker", "subject", "organisation"]
    gauges = {key: GaugeMetricFamily(name, text, labels=labels) for key, (name, text) in STREAM_GAUGES.items()}
    counters = {key: CounterMetricFamily(name, text, labels=labels) for key, (name, text) in STREAM_COUNTERS.items()}
    for consumer, report in sorted(reports.items()):
        values = [consumer, *(str(report.get(key) or "") for key in ("broker", "subject", "organisation"))]
        up = not report.get("stale") and report.get("state") == "running"
        for key, family in gauges.items():
            value = float(up) if key == "up" else report.get(key)
            if value is not None:
                family.add_metric(values, float(value))
        for key, family in counters.items():
            family.add_metric(values, float(report.get(key) or 0))
    return [*gauges.values(), *counters.values()]
