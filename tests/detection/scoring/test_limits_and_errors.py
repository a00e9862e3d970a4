"""Limits (rate, size) and the error shape: JSON naming field and reason, never a stack trace."""

import json

from core import logging as anomaly_logging
from core.api_errors import handler500
from detection.scoring import api_services, registry
from tests.detection.conftest import prototype_body
from transactions.models import Transaction

SCORE = "/api/v1/transactions/score"


def test_a_token_over_its_rate_gets_429_with_retry_after(scorer, active_model, settings):
    settings.API_RATES = settings.API_RATES | {"score": "2/min"}
    codes = [scorer.post(SCORE, prototype_body(n), format="json").status_code for n in range(3)]

    assert codes == [201, 201, 429]
    third = scorer.post(SCORE, prototype_body(9), format="json")
    assert 1 <= int(third["Retry-After"]) <= 60
    assert third.json()["errors"][0]["code"] == "throttled"
    assert Transaction.objects.filter(source=scorer.token.source).count() == 2


def test_the_rate_is_counted_per_token(scorer, other_partner, active_model, settings):
    settings.API_RATES = settings.API_RATES | {"score": "1/min"}
    scorer.post(SCORE, prototype_body(1), format="json")

    response = other_partner.post(SCORE, prototype_body(1), format="json")

    assert response.status_code == 201


def test_each_scope_has_its_own_rate(scorer, active_model, settings):
    settings.API_RATES = settings.API_RATES | {"score": "1/min"}
    scorer.post(SCORE, prototype_body(1), format="json")

    response = scorer.get("/api/v1/transactions")

    assert response.status_code == 200


def test_scoring_goes_on_while_redis_does_not_answer(scorer, active_model, settings, caplog, monkeypatch):
    """Rate limits are off and the active version is read from PostgreSQL; the log says so, once, not per request."""
    monkeypatch.setattr(anomaly_logging, "_warned_at", {})
    settings.API_RATES = settings.API_RATES | {"score": "1/min"}
    settings.CACHES = {"default": settings.CACHES["default"] | {"LOCATION": "redis://127.0.0.1:1/0"}}  # refused
    registry.active_model_changed()

    with caplog.at_level("WARNING"):
        codes = [scorer.post(SCORE, prototype_body(n), format="json").status_code for n in range(3)]
        batch = scorer.post(f"{SCORE}/batch", {"transactions": [prototype_body(7)]}, format="json")

    assert codes == [201, 201, 201]  # over the 1/min rate: not counted while Redis is away
    assert batch.status_code == 200 and batch.json()["results"][0]["model_version"] == active_model.version
    assert Transaction.objects.filter(source=scorer.token.source).count() == 4
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert sum(m.startswith("rate limits are off while Redis does not answer") for m in warnings) == 1
    assert sum(m.startswith("the active model version is read from PostgreSQL") for m in warnings) == 1
    health = scorer.get("/healthz").json()["checks"]
    assert (health["redis"]["ok"], health["model"]["ok"]) == (False, True)


def test_a_body_over_the_request_size_limit_is_refused_with_413(scorer, active_model, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = scorer.post(SCORE, prototype_body(note="x" * 2000), format="json")

    assert response.status_code == 413
    assert response.json()["errors"][0]["code"] == "too_large"
    assert not Transaction.objects.filter(source=scorer.token.source).exists()


def test_an_unexpected_failure_answers_500_json_without_a_stack_trace(scorer, active_model, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("secret internals at /srv/app/module.py line 12")

    monkeypatch.setattr(api_services, "transaction_score", broken)
    response = scorer.post(SCORE, prototype_body(), format="json")

    assert response.status_code == 500
    body = response.json()
    assert body["errors"][0]["code"] == "server_error"
    assert body["request_id"] == response["X-Request-ID"]
    assert "Traceback" not in response.content.decode()
    assert "secret internals" not in response.content.decode()


def test_an_unknown_api_path_answers_json_404(scorer):
    response = scorer.get("/api/v1/no-such-thing")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["errors"][0]["code"] == "not_found"


def test_a_wrong_method_answers_json_405(scorer):
    response = scorer.get(SCORE)

    assert response.status_code == 405
    assert response.json()["errors"][0]["code"] == "method_not_allowed"


def test_the_500_handler_answers_json_under_the_api_and_html_elsewhere(rf):
    api = handler500(rf.get("/api/v1/transactions"))
    page = handler500(rf.get("/review/"))

    assert api.status_code == 500
    assert json.loads(api.content)["errors"][0]["code"] == "server_error"
    assert page.status_code == 500
    assert not page["Content-Type"].startswith("application/json")


def test_the_schema_and_swagger_ui_are_served_locally(scorer):
    schema = scorer.get("/api/v1/schema/")
    docs = scorer.get("/api/v1/docs/")

    assert schema.status_code == 200
    assert b"/api/v1/transactions/score/batch" in schema.content
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
