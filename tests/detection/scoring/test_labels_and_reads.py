"""Labels (one and bulk) and reads (detail and list) of the partner API."""

from datetime import UTC, datetime

import pytest

from tests.detection.conftest import prototype_body
from transactions.models import LabelEvent, Transaction

SCORE = "/api/v1/transactions/score"


@pytest.fixture
def scored(scorer, active_model):
    """Three scored transactions of the scorer: two of account 1234, one of account 77."""
    for n, user in ((1, 1234), (2, 1234), (3, 77)):
        body = prototype_body(n, user_id=user, timestamp=f"2026-03-2{n} 10:00:00")
        assert scorer.post(SCORE, body, format="json").status_code == 201
    return scorer


def test_reporting_fraud_labels_the_transaction_with_a_reported_event(scored):
    response = scored.post(
        "/api/v1/transactions/TXN_00000001/label",
        {"label": "fraud", "note": "chargeback 4837", "reported_at": "2026-03-25T09:00:00Z"},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["label"] == "fraud"
    stored = Transaction.objects.get(transaction_id="TXN_00000001")
    assert (stored.label, stored.label_source) == (1, "reported")
    assert stored.labelled_at == datetime(2026, 3, 25, 9, tzinfo=UTC)
    event = LabelEvent.objects.get(transaction=stored)
    assert (event.label, event.source, event.note) == (1, "reported", "chargeback 4837")


def test_a_label_outside_the_choices_is_refused_naming_the_field(scored):
    response = scored.post("/api/v1/transactions/TXN_00000001/label", {"label": "maybe"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "label"
    assert Transaction.objects.get(transaction_id="TXN_00000001").label is None


def test_labelling_another_partners_transaction_is_not_found(scored, other_partner):
    response = other_partner.post("/api/v1/transactions/TXN_00000001/label", {"label": "fraud"}, format="json")

    assert response.status_code == 404
    assert Transaction.objects.get(transaction_id="TXN_00000001").label is None


def test_a_token_without_the_label_scope_cannot_label(scored, make_partner):
    response = make_partner("score", "read").post(
        "/api/v1/transactions/TXN_00000001/label", {"label": "fraud"}, format="json"
    )

    assert response.status_code == 403
    assert not LabelEvent.objects.exists()


def test_bulk_labels_store_the_known_and_report_the_unknown_and_the_invalid(scored):
    labels = [
        {"transaction_id": "TXN_00000001", "label": "fraud"},
        {"transaction_id": "nope", "label": "fraud"},
        {"transaction_id": "TXN_00000002", "label": "legitimate"},
        {"transaction_id": "TXN_00000003", "label": "perhaps"},
    ]
    response = scored.post("/api/v1/labels", {"labels": labels}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert [(r["index"], r["label"]) for r in body["results"]] == [(0, "fraud"), (2, "legitimate")]
    assert [(e["index"], e["errors"][0]["field"]) for e in body["errors"]] == [(1, "transaction_id"), (3, "label")]
    assert body["counts"] == {"received": 4, "labelled": 2}
    labels_now = dict(Transaction.objects.filter(source=scored.token.source).values_list("transaction_id", "label"))
    assert labels_now == {"TXN_00000001": 1, "TXN_00000002": 0, "TXN_00000003": None}


def test_reading_one_transaction_shows_its_score_and_attributes(scored, active_model):
    response = scored.get("/api/v1/transactions/TXN_00000001")

    assert response.status_code == 200
    body = response.json()
    assert body["account_id"] == "1234"
    assert body["attributes"]["total_amount_24h"] == 300.0
    assert body["score"]["model_version"] == active_model.version
    assert body["label"] is None


def test_another_partner_cannot_read_the_transaction(scored, other_partner):
    response = other_partner.get("/api/v1/transactions/TXN_00000001")

    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"


def test_a_token_without_the_read_scope_cannot_read(scored, make_partner):
    assert make_partner("score").get("/api/v1/transactions/TXN_00000001").status_code == 403
    assert make_partner("score").get("/api/v1/transactions").status_code == 403


def test_a_revoked_token_cannot_read(scored, revoked_client):
    assert revoked_client.get("/api/v1/transactions").status_code == 401


def test_an_outsider_cannot_read_but_an_analyst_can(scored, outsider_client, analyst):
    assert outsider_client.get("/api/v1/transactions/TXN_00000001").status_code == 403
    outsider_client.force_login(analyst)
    assert outsider_client.get("/api/v1/transactions/TXN_00000001").status_code == 200


def test_the_list_holds_only_the_callers_transactions_newest_first(scored, other_partner):
    other_partner.post(SCORE, prototype_body(9), format="json")
    response = scored.get("/api/v1/transactions")

    assert response.status_code == 200
    ids = [t["transaction_id"] for t in response.json()["results"]]
    assert ids == ["TXN_00000003", "TXN_00000002", "TXN_00000001"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("account_id=1234", ["TXN_00000002", "TXN_00000001"]),
        ("since=2026-03-22T00:00:00Z", ["TXN_00000003", "TXN_00000002"]),
        ("until=2026-03-22T00:00:00Z", ["TXN_00000001"]),
        ("risk_level=critical&account_id=77", []),
        ("label=unlabelled&account_id=77", ["TXN_00000003"]),
        ("label=fraud", []),
    ],
)
def test_the_list_filters(scored, query, expected):
    response = scored.get(f"/api/v1/transactions?{query}")

    assert response.status_code == 200
    assert [t["transaction_id"] for t in response.json()["results"]] == expected


def test_the_list_filters_by_the_latest_risk_level(scored):
    level = scored.get("/api/v1/transactions/TXN_00000003").json()["score"]["risk_level"]
    response = scored.get(f"/api/v1/transactions?risk_level={level}&account_id=77")

    assert [t["transaction_id"] for t in response.json()["results"]] == ["TXN_00000003"]


def test_the_list_pages_with_a_cursor(scored):
    first = scored.get("/api/v1/transactions?limit=2").json()
    second = scored.get(first["next"]).json()

    assert [t["transaction_id"] for t in first["results"]] == ["TXN_00000003", "TXN_00000002"]
    assert [t["transaction_id"] for t in second["results"]] == ["TXN_00000001"]
    assert second["next"] is None


def test_a_bad_filter_is_refused_naming_it(scored):
    response = scored.get("/api/v1/transactions?since=last-tuesday&risk_level=huge")

    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"since", "risk_level"}


def test_the_list_costs_the_same_few_queries_whatever_the_page_size(scored, django_assert_num_queries):
    for n in range(10, 40):
        scored.post(SCORE, prototype_body(n), format="json")
    # token, page, scores of the page
    with django_assert_num_queries(3):
        response = scored.get("/api/v1/transactions?limit=30&label=unlabelled")

    assert response.status_code == 200
    assert len(response.json()["results"]) == 30
