"""GET /metrics: Prometheus text for local callers or the METRICS_TOKEN bearer; refused to anyone else."""

from prometheus_client import REGISTRY

from core import metrics
from review.models import ReviewItem
from tests.detection.conftest import prototype_body
from tests.factories import ReviewItemFactory


def test_metrics_show_scoring_counts_latency_and_queue_depth_to_a_local_caller(client, scorer, active_model):
    scorer.post("/api/v1/transactions/score", prototype_body(), format="json")
    ReviewItemFactory(status=ReviewItem.Status.OPEN)

    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")

    assert response.status_code == 200
    text = response.content.decode()
    labels = f'kind="single",model_version="{active_model.version}",organisation="test-org"'
    assert f"anomaly_scored_total{{{labels}}}" in text
    assert 'anomaly_scoring_seconds_bucket{kind="single",le="0.01"}' in text
    assert 'anomaly_review_queue_depth{organisation="test-org",status="open"} 1.0' in text


def test_queue_depth_is_reported_for_each_organisation(client, other_organisation):
    ReviewItemFactory(status=ReviewItem.Status.OPEN)

    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()

    assert 'anomaly_review_queue_depth{organisation="test-org",status="open"} 1.0' in text
    assert 'anomaly_review_queue_depth{organisation="other-org",status="open"} 0.0' in text


def test_scored_and_flagged_counts_are_labelled_with_the_organisation():
    def count(name: str, organisation: str) -> float:
        labels = {"organisation": organisation, "model_version": "7", "kind": "job"}
        return REGISTRY.get_sample_value(f"{name}_total", labels) or 0.0

    before = {org: count("anomaly_flagged", org) for org in ("org-a", "org-b")}
    metrics.counts_recorded(organisation="org-a", model_version=7, scored=10, flagged=3, kind="job", seconds=0.1)

    assert count("anomaly_flagged", "org-a") - before["org-a"] == 3
    assert count("anomaly_flagged", "org-b") == before["org-b"]


def test_metrics_are_refused_to_a_remote_caller_without_the_token(client, settings):
    settings.METRICS_TOKEN = "m-secret"

    response = client.get("/metrics", REMOTE_ADDR="10.1.2.3")

    assert response.status_code == 403
    assert response.json()["errors"][0]["field"] == "Authorization"


def test_metrics_are_served_to_a_remote_caller_with_the_token(client, settings, db):
    settings.METRICS_TOKEN = "m-secret"

    response = client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer m-secret")

    assert response.status_code == 200
    assert b"anomaly_review_queue_depth" in response.content


def test_a_wrong_metrics_token_is_refused(client, settings):
    settings.METRICS_TOKEN = "m-secret"

    response = client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer guess")

    assert response.status_code == 403


def test_local_access_can_be_turned_off_behind_a_proxy(client, settings):
    settings.METRICS_ALLOW_LOCAL = False

    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
