"""POST /api/v1/transactions/score: one transaction, stored and scored, idempotent."""

from datetime import timedelta

import pytest

from detection.models import Score
from review.models import ReviewItem
from tests.detection.conftest import START, prototype_body
from transactions.models import Transaction

URL = "/api/v1/transactions/score"


def test_prototype_body_is_accepted_unchanged_and_scored(scorer, active_model):
    response = scorer.post(URL, prototype_body(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {
        "transaction_id",
        "score",
        "risk_level",
        "is_anomaly",
        "reasons",
        "decision",
        "rules",
        "tags",
        "model_version",
    }
    assert body["transaction_id"] == "TXN_00000001"
    assert 0 <= body["score"] <= 1
    assert body["model_version"] == active_model.version
    stored = Transaction.objects.get(transaction_id="TXN_00000001", source=scorer.token.source)
    assert stored.account_id == "1234"
    assert stored.channel == "in_person"
    assert stored.attributes["transaction_count_1h"] == 2
    assert Score.objects.filter(transaction=stored, model_version=active_model).count() == 1


def test_resending_the_same_transaction_returns_the_stored_result(scorer, active_model):
    first = scorer.post(URL, prototype_body(), format="json")
    second = scorer.post(URL, prototype_body(), format="json")

    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json() == first.json()
    assert Transaction.objects.filter(transaction_id="TXN_00000001").count() == 1
    assert Score.objects.filter(transaction__transaction_id="TXN_00000001").count() == 1


def test_unknown_fields_are_kept_as_attributes(scorer, active_model):
    response = scorer.post(URL, prototype_body(shoe_size=44, nested={"a": [1, 2]}), format="json")

    assert response.status_code == 201
    stored = Transaction.objects.get(transaction_id="TXN_00000001")
    assert stored.attributes["shoe_size"] == 44
    assert stored.attributes["nested"] == {"a": [1, 2]}


def test_an_invalid_field_is_named_with_its_reason_and_nothing_is_stored(scorer, active_model):
    response = scorer.post(URL, prototype_body(amount="lots", timestamp="yesterday"), format="json")

    assert response.status_code == 400
    errors = {e["field"]: e["reason"] for e in response.json()["errors"]}
    assert errors == {"amount": "not a number", "timestamp": errors["timestamp"]}
    assert "date" in errors["timestamp"]
    assert not Transaction.objects.filter(transaction_id="TXN_00000001").exists()


def test_a_body_that_is_not_an_object_is_refused_as_json(scorer, active_model):
    response = scorer.post(URL, [1, 2, 3], format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["reason"]


def test_malformed_json_is_refused_with_a_reason(scorer, active_model):
    response = scorer.post(URL, data="{not json", content_type="application/json")

    assert response.status_code == 400
    assert "JSON" in response.json()["errors"][0]["reason"]


def test_a_spike_is_flagged_and_enters_the_review_queue(scorer, active_model):
    spike = {
        "transaction_id": "spike-1",
        "timestamp": (START + timedelta(days=10, hours=12)).isoformat(),
        "account_id": "acct-001",
        "amount": "9800.00",
        "merchant_id": "m-new",
        "channel": "online",
        "country": "BR",
    }
    response = scorer.post(URL, spike, format="json")

    assert response.status_code == 201
    assert response.json()["is_anomaly"] is True
    assert response.json()["reasons"]
    assert ReviewItem.objects.filter(transaction__transaction_id="spike-1").count() == 1


def test_without_an_active_model_the_answer_is_503_and_nothing_is_stored(scorer, no_active_model):
    response = scorer.post(URL, prototype_body(), format="json")

    assert response.status_code == 503
    assert response.json()["errors"][0]["code"] == "no_active_model"
    assert not Transaction.objects.filter(transaction_id="TXN_00000001").exists()


def test_an_active_model_this_release_cannot_read_is_a_503_naming_it(scorer, unreadable_active_model):
    response = scorer.post(URL, prototype_body(), format="json")
    assert response.status_code == 503
    error = response.json()["errors"][0]
    assert error["code"] == "model_unloadable"
    assert error["reason"].startswith("Model version 9 is active but cannot be loaded (model artifact format 999")
    assert not Transaction.objects.filter(transaction_id="TXN_00000001").exists()

    health = scorer.get("/healthz")
    assert health.status_code == 503
    assert health.json()["checks"]["model"]["ok"] is False
    assert health.json()["checks"]["model"]["version"] == 9
    assert "cannot be loaded" in health.json()["checks"]["model"]["error"]


def test_a_second_partner_may_reuse_an_id_without_seeing_the_first(scorer, other_partner, active_model):
    scorer.post(URL, prototype_body(), format="json")
    response = other_partner.post(URL, prototype_body(amount=12), format="json")

    assert response.status_code == 201
    assert Transaction.objects.filter(transaction_id="TXN_00000001").count() == 2


@pytest.mark.parametrize("scopes", [("read",), ("label", "read")])
def test_a_token_without_the_score_scope_is_refused(make_partner, active_model, scopes):
    response = make_partner(*scopes).post(URL, prototype_body(), format="json")

    assert response.status_code == 403
    assert response.json()["errors"][0]["field"] == "Authorization"
    assert not Transaction.objects.filter(transaction_id="TXN_00000001").exists()


def test_a_revoked_token_is_refused(revoked_client, active_model):
    response = revoked_client.post(URL, prototype_body(), format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Transaction.objects.exists() or not Transaction.objects.filter(transaction_id="TXN_00000001").exists()


def test_an_anonymous_caller_is_refused(api_client, active_model):
    response = api_client.post(URL, prototype_body(), format="json")

    assert response.status_code == 401
    assert response.json()["errors"][0]["field"] == "Authorization"


def test_an_unknown_token_is_refused(api_client, active_model):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer atk_not-a-real-token")
    response = api_client.post(URL, prototype_body(), format="json")

    assert response.status_code == 401


def test_a_logged_in_outsider_is_refused(outsider_client, active_model):
    response = outsider_client.post(URL, prototype_body(), content_type="application/json")

    assert response.status_code == 403
    assert not Transaction.objects.filter(transaction_id="TXN_00000001").exists()


def test_a_logged_in_analyst_cannot_score_through_the_partner_api(analyst_client, active_model):
    response = analyst_client.post(URL, prototype_body(), content_type="application/json")

    assert response.status_code == 403
    assert not Transaction.objects.filter(transaction_id="TXN_00000001").exists()
