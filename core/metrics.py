"""Prometheus metrics: scoring latency, scored and flagged counts per organisation and model version, decisions by
action and rule hits by rule, job progress and review-queue depth per organisation. An organisation is labelled
with its name (its slug).

The HTTP requests by view and code, Celery tasks and queues, alert deliveries and the score distribution feed the
dashboards in deploy/grafana/ (docs/operations.md, "Monitoring").

Counters and histograms live in each process. Set PROMETHEUS_MULTIPROC_DIR (an empty, writable directory,
cleared at deploy) to sum them over every web and worker process on the machine; without it /metrics shows
the counts of the process that answers. Job progress and the review-queue depth are read from the database
at scrape time, so they are right whichever process answers.

/metrics answers requests from 127.0.0.1 or ::1 (METRICS_ALLOW_LOCAL, on by default; turn it off behind a
proxy on the same host), and any request carrying `Authorization: Bearer $METRICS_TOKEN` when that is set.
"""

import hmac
import os
import time
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
    start_http_server,
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

# Every HTTP request, by the view that answered it (its URL name; "unmatched" when none did) and method and code.
HTTP_REQUESTS = Counter(
    "anomaly_http_requests", "HTTP requests answered, by view, method and status code.", ["view", "method", "code"]
)
HTTP_SECONDS = Histogram(
    "anomaly_http_request_seconds",
    "Time to answer an HTTP request (the whole middleware stack), by view.",
    ["view"],
    buckets=LATENCY_BUCKETS,
)
SCORE_BUCKETS = tuple(round(0.05 * i, 2) for i in range(1, 21))
SCORES = Histogram(
    "anomaly_score",
    "Scores stored, by organisation (the distribution of the model in force).",
    ["organisation"],
    buckets=SCORE_BUCKETS,
)
CELERY_TASKS = Counter("anomaly_celery_tasks", "Celery tasks finished, by task and state.", ["task", "state"])
CELERY_TASK_SECONDS = Histogram(
    "anomaly_celery_task_seconds", "Time a Celery task ran, by task.", ["task"], buckets=LATENCY_BUCKETS
)
ALERT_DELIVERIES = Counter(
    "anomaly_alert_deliveries",
    "Alert delivery attempts, by channel and outcome (sent, retry: failed and tried again, failed: given up).",
    ["channel", "outcome"],
)


HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def request_recorded(*, view: str, method: str, code: int, seconds: float) -> None:
    method = method if method in HTTP_METHODS else "other"  # a made-up method must not make a new series
    HTTP_REQUESTS.labels(view=view, method=method, code=str(code)).inc()
    HTTP_SECONDS.labels(view=view).observe(seconds)


def scores_distribution_recorded(*, organisation: str, scores) -> None:
    """Observe many scores at once: one count per bucket (np.searchsorted) rather than one call per score, so a
    batch of thousands costs microseconds."""
    import numpy as np

    values = np.asarray(scores, dtype=float)
    if not len(values):
        return
    child = SCORES.labels(organisation=organisation)
    bounds = np.asarray(child._upper_bounds)  # the buckets' upper bounds, +Inf last
    counts = np.bincount(np.searchsorted(bounds, values, side="left"), minlength=len(bounds))
    for bucket, count in zip(child._buckets, counts, strict=False):
        if count:
            bucket.inc(int(count))
    child._sum.inc(float(values.sum()))


def task_recorded(*, task: str, state: str, seconds: float | None = None) -> None:
    CELERY_TASKS.labels(task=task, state=state).inc()
    if seconds is not None:
        CELERY_TASK_SECONDS.labels(task=task).observe(seconds)


def delivery_recorded(*, channel: str, outcome: str) -> None:
    ALERT_DELIVERIES.labels(channel=channel, outcome=outcome).inc()


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


def metrics_server_start(port: int, addr: str = "0.0.0.0") -> None:  # noqa: S104 - scraped from other hosts
    """Serve /metrics on its own port in a process that has no web server (a Celery worker, a stream consumer):
    with PROMETHEUS_MULTIPROC_DIR, the sum over every process of the machine, as the web's /metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    start_http_server(port, addr=addr, registry=registry)


class RequestMetricsMiddleware:
    """Counts every request by view, method and code, and times it (anomaly_http_requests, _request_seconds)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or match.url_name or "unnamed") if match else "unmatched"
        request_recorded(
            view=view, method=request.method, code=response.status_code, seconds=time.perf_counter() - started
        )
        return response


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
