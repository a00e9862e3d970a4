"""Dashboards as code (deploy/prometheus/, deploy/grafana/): every metric a dashboard queries is one /metrics exports,
the dashboards are Grafana's JSON, Prometheus scrapes web nodes, workers and consumers, and docker-compose runs both
under the `monitoring` profile. Then the metrics the dashboards added, each observed where it happens."""

import json
import re
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import redis
import yaml
from django.conf import settings
from django.utils import timezone
from prometheus_client import REGISTRY

from anomaly_site.celery import app as celery_app
from core import metrics
from review.models import ReviewItem
from tests.detection.conftest import START, active_model, history, store_transaction, trained_model  # noqa: F401
from tests.factories import (
    ModelVersionFactory,
    OrganisationFactory,
    ReviewItemFactory,
    ScoreFactory,
    SourceFactory,
    TransactionFactory,
)

ROOT = Path(settings.BASE_DIR)
DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
# PromQL's own words, and the series Prometheus makes itself (`up`): everything else in a query is a metric name.
PROMQL_WORDS = {
    *("sum", "max", "min", "avg", "count", "topk", "bottomk", "by", "without", "on", "ignoring", "and", "or"),
    *("unless", "rate", "irate", "increase", "delta", "deriv", "histogram_quantile", "label_values", "time"),
    *("clamp_min", "clamp_max", "abs", "round", "offset", "bool"),
}
PROMETHEUS_OWN = {"up"}


def dashboard_queries(dashboard: dict) -> list[str]:
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable["type"] == "query":
            query = variable["query"]
            queries.append(query["query"] if isinstance(query, dict) else query)
    return queries


def metric_names(query: str) -> set[str]:
    """The metric names a PromQL query reads: its words, less label matchers, grouping labels, ranges and strings."""
    query = re.sub(r'"[^"]*"', "", query)
    query = re.sub(r"\{[^}]*\}", "", query)
    query = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", query)
    query = re.sub(r"\[[^\]]*\]", "", query)
    query = re.sub(r"label_values\(([^,]*),[^)]*\)", r"\1", query)
    words = set(re.findall(r"[A-Za-z_:][\w:]*", query))
    return words - PROMQL_WORDS


def exported_series(text: str) -> set[str]:
    """Every series name /metrics exposes, from its TYPE lines (a histogram's _bucket, _sum and _count included)."""
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE):
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


def sample(name: str, labels: dict) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def gauge_value(name: str, labels: dict) -> float | None:
    for family in metrics.DatabaseCollector().collect():
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    return None


@pytest.mark.django_db
def test_every_metric_a_dashboard_queries_is_one_the_code_exports(client):
    exported = exported_series(client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode())

    queried = {
        name for d in DASHBOARDS for q in dashboard_queries(json.loads(d.read_text())) for name in metric_names(q)
    }

    assert DASHBOARDS and queried
    assert queried - exported - PROMETHEUS_OWN == set()


def test_metric_names_are_read_from_queries_without_labels_functions_or_ranges():
    query = 'histogram_quantile(0.95, sum by (le, kind) (rate(anomaly_scoring_seconds_bucket{kind="job"}[5m])))'

    assert metric_names(query) == {"anomaly_scoring_seconds_bucket"}
    assert metric_names("label_values(anomaly_review_queue_depth, organisation)") == {"anomaly_review_queue_depth"}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_a_dashboard_is_grafana_json_with_a_datasource_and_a_query_in_every_panel(path):
    dashboard = json.loads(path.read_text())

    assert isinstance(dashboard["schemaVersion"], int) and dashboard["uid"] and dashboard["title"]
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert panels and len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in panels:
        assert panel["datasource"]["type"] == "prometheus", panel["title"]
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["refId"] and target["expr"].strip() and target["datasource"], panel["title"]


def test_the_dashboard_covers_what_an_operator_watches():
    queries = " ".join(q for d in DASHBOARDS for q in dashboard_queries(json.loads(d.read_text())))

    for metric in (
        "anomaly_http_requests_total",  # requests, errors by code
        "anomaly_scoring_seconds_bucket",  # latency percentiles
        "anomaly_scored_total",  # rows/s
        "anomaly_decisions_total",
        "anomaly_flagged_total",
        "anomaly_review_queue_depth",
        "anomaly_review_queue_oldest_seconds",
        "anomaly_review_queue_over_sla",
        "anomaly_jobs",
        "anomaly_celery_queue_length",
        "anomaly_celery_tasks_total",
        "anomaly_model_active",
        "anomaly_score_bucket",
        "anomaly_alert_deliveries_total",
    ):
        assert metric in queries, metric


def test_prometheus_scrapes_the_web_nodes_workers_and_consumers():
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())

    jobs = {job["job_name"]: job for job in config["scrape_configs"]}

    assert set(jobs) == {"sentinel-web", "sentinel-worker", "sentinel-consumer"}
    assert jobs["sentinel-web"]["metrics_path"] == "/metrics"
    assert jobs["sentinel-web"]["authorization"]["type"] == "Bearer"


def test_grafana_provisioning_loads_the_dashboards_from_prometheus_by_its_uid():
    provisioning = ROOT / "deploy" / "grafana" / "provisioning"
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "sentinel.yml").read_text())["providers"]
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "sentinel.json").read_text())

    variable = next(v for v in dashboard["templating"]["list"] if v["name"] == "datasource")
    assert variable["current"]["value"] == source["uid"] and source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def test_docker_compose_runs_prometheus_and_grafana_under_the_monitoring_profile():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]

    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"]
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            assert not source.startswith("./") or (ROOT / source).exists(), volume
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in services["grafana"]["volumes"]
    assert services["worker"]["environment"]["METRICS_PORT"] == "9101"  # the worker target in prometheus.yml
    assert "profiles" not in services["web"] and "profiles" not in services["worker"]


def test_docker_compose_serves_as_make_run_does_plain_http_with_debug_off():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())

    for name in ("web", "worker"):
        environment = compose["services"][name]["environment"]
        assert environment["DEBUG"] == "${DEBUG:-0}" and environment["PLAIN_HTTP"] == "${PLAIN_HTTP:-1}"
        assert "var:/app/var" in compose["services"][name]["volumes"]  # one kept secret key for both


# The metrics the dashboards added, each where it is observed.


@pytest.mark.django_db
def test_every_request_is_counted_by_view_method_and_code(client):
    labels = {"view": "login", "method": "GET", "code": "200"}
    before = sample("anomaly_http_requests_total", labels)
    timed = sample("anomaly_http_request_seconds_count", {"view": "login"})

    client.get("/accounts/login/")

    assert sample("anomaly_http_requests_total", labels) - before == 1
    assert sample("anomaly_http_request_seconds_count", {"view": "login"}) - timed == 1


@pytest.mark.django_db
def test_a_request_no_view_answers_is_counted_as_unmatched_and_a_made_up_method_as_other(client):
    labels = {"view": "unmatched", "method": "other", "code": "404"}
    before = sample("anomaly_http_requests_total", labels)

    client.generic("BREW", "/no-such-page/")

    assert sample("anomaly_http_requests_total", labels) - before == 1


def test_scores_fall_in_their_buckets_of_the_distribution():
    labels = {"organisation": "distribution-test"}
    before = {le: sample("anomaly_score_bucket", labels | {"le": le}) for le in ("0.05", "0.5", "1.0", "+Inf")}

    metrics.scores_distribution_recorded(organisation="distribution-test", scores=np.array([0.01, 0.05, 0.5, 0.97]))

    after = {le: sample("anomaly_score_bucket", labels | {"le": le}) - before[le] for le in before}
    assert after == {"0.05": 2, "0.5": 3, "1.0": 4, "+Inf": 4}
    assert sample("anomaly_score_sum", labels) == pytest.approx(1.53)


@pytest.mark.django_db
def test_stored_scores_are_observed_in_the_distribution_once_they_commit(
    active_model,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    from detection.scoring.services import score_transactions

    before = sample("anomaly_score_count", {"organisation": "test-org"})
    rows = [store_transaction(account_id="acct-001", amount="10.00", at=START + timedelta(days=10))]
    with django_capture_on_commit_callbacks(execute=True):
        score_transactions(transactions=rows)

    assert sample("anomaly_score_count", {"organisation": "test-org"}) - before == 1


@pytest.mark.django_db
def test_the_queue_gauges_give_the_oldest_items_age_and_the_items_past_their_sla(settings):
    settings.REVIEW_SLA_AMBER_MINUTES, settings.REVIEW_SLA_RED_MINUTES = 60, 240
    organisation = OrganisationFactory(name="sla-org")
    source = SourceFactory(organisation=organisation)
    for minutes in (10, 90, 300, 600):
        item = ReviewItemFactory(score=ScoreFactory(transaction=TransactionFactory(source=source)))
        ReviewItem.objects.filter(pk=item.pk).update(created_at=timezone.now() - timedelta(minutes=minutes))

    oldest = gauge_value("anomaly_review_queue_oldest_seconds", {"organisation": "sla-org"})

    assert 600 * 60 <= oldest < 600 * 60 + 60
    assert gauge_value("anomaly_review_queue_over_sla", {"organisation": "sla-org", "level": "amber"}) == 1
    assert gauge_value("anomaly_review_queue_over_sla", {"organisation": "sla-org", "level": "red"}) == 2


@pytest.mark.django_db
def test_an_organisation_with_an_empty_queue_has_zero_age():
    OrganisationFactory(name="empty-org")

    assert gauge_value("anomaly_review_queue_oldest_seconds", {"organisation": "empty-org"}) == 0
    assert gauge_value("anomaly_review_queue_over_sla", {"organisation": "empty-org", "level": "red"}) == 0


@pytest.mark.django_db
def test_the_model_version_in_force_is_a_gauge_per_organisation():
    organisation = OrganisationFactory(name="model-org")
    ModelVersionFactory(organisation=organisation, version=1, status="retired")
    ModelVersionFactory(organisation=organisation, version=2, status="active")

    assert gauge_value("anomaly_model_active", {"organisation": "model-org", "model_version": "2"}) == 1
    assert gauge_value("anomaly_model_active", {"organisation": "model-org", "model_version": "1"}) is None


def test_the_celery_queue_length_is_read_from_the_broker():
    queue = celery_app.conf.task_default_queue
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    waiting = client.llen(queue)
    client.lpush(queue, "not-a-task-for-this-test")
    try:
        length = next(s.value for f in celery_queues() for s in f.samples if s.labels == {"queue": queue})
    finally:
        client.lrem(queue, 1, "not-a-task-for-this-test")

    assert length == waiting + 1


def celery_queues():
    from anomaly_site.celery import celery_queues_gauge

    return list(celery_queues_gauge())


@pytest.mark.django_db
def test_a_finished_task_is_counted_by_name_and_state_with_its_run_time():
    from alerts.tasks import alerts_evaluate_pending_task

    name = alerts_evaluate_pending_task.name
    before = sample("anomaly_celery_tasks_total", {"task": name, "state": "success"})
    timed = sample("anomaly_celery_task_seconds_count", {"task": name})

    alerts_evaluate_pending_task.apply()  # runs here, with the signals a worker sends

    assert sample("anomaly_celery_tasks_total", {"task": name, "state": "success"}) - before == 1
    assert sample("anomaly_celery_task_seconds_count", {"task": name}) - timed == 1
