"""GET /metrics: Prometheus text for local callers or the METRICS_TOKEN bearer; refused to anyone else."""

from review.models import ReviewItem
from tests.detection.conftest import prototype_body
from tests.factories import ReviewItemFactory


def test_metrics_show_scoring_counts_latency_and_queue_depth_to_a_local_caller(client, scorer, active_model):
    scorer.post("/api/v1/transactions/score", prototype_body(), format="json")
    ReviewItemFactory(status=ReviewItem.Status.OPEN)

    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")

    assert response.status_code == 200
    text = response.content.decode()
    assert f'anomaly_scored_total{{kind="single",model_version="{active_model.version}"}}' in text
    assert 'anomaly_scoring_seconds_bucket{kind="single",le="0.01"}' in text
    assert 'anomaly_review_queue_depth{status="open"} 1.0' in text


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
