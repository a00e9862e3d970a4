"""POST /api/v1/transactions/score/batch: many at once, bad items reported by index, good ones stored."""

from detection.models import Score
from tests.detection.conftest import prototype_body
from transactions.models import Transaction

URL = "/api/v1/transactions/score/batch"


def test_a_mixed_batch_stores_every_valid_item_and_reports_each_bad_one_by_field(scorer, active_model):
    items = [
        prototype_body(1),
        prototype_body(2, amount=-5),
        prototype_body(3),
        {"transaction_id": "TXN_00000004", "amount": 10},
        prototype_body(5, user_id=None),
    ]
    response = scorer.post(URL, {"transactions": items}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert [r["index"] for r in body["results"]] == [0, 2]
    assert [(e["index"], e["transaction_id"]) for e in body["errors"]] == [
        (1, "TXN_00000002"),
        (3, "TXN_00000004"),
        (4, "TXN_00000005"),
    ]
    assert body["errors"][0]["errors"] == [{"field": "amount", "reason": "must not be negative", "code": "invalid"}]
    assert {e["field"] for e in body["errors"][1]["errors"]} == {"timestamp", "account_id"}
    assert body["errors"][2]["errors"][0]["field"] == "account_id"
    assert body["counts"] == {"received": 5, "created": 2, "existing": 0, "invalid": 3}
    stored = set(Transaction.objects.filter(source=scorer.token.source).values_list("transaction_id", flat=True))
    assert stored == {"TXN_00000001", "TXN_00000003"}
    assert Score.objects.filter(transaction__source=scorer.token.source).count() == 2


def test_values_the_database_would_refuse_are_reported_by_field_and_sink_nothing_else(scorer, active_model):
    items = [prototype_body(1), prototype_body(2, user_id="u\x00"), prototype_body(3, amount="1e30"), prototype_body(4)]
    items[3]["note"] = {"text": "\x00"}

    response = scorer.post(URL, {"transactions": items}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert [r["index"] for r in body["results"]] == [0]
    assert [(e["index"], [f["field"] for f in e["errors"]]) for e in body["errors"]] == [
        (1, ["account_id"]),
        (2, ["amount"]),
        (3, ["note"]),
    ]
    assert Transaction.objects.filter(source=scorer.token.source).count() == 1


def test_a_one_row_batch_is_scored(scorer, active_model):
    response = scorer.post(URL, {"transactions": [prototype_body()]}, format="json")

    assert response.status_code == 200
    assert response.json()["results"][0]["transaction_id"] == "TXN_00000001"
    assert response.json()["results"][0]["created"] is True
    assert Score.objects.filter(transaction__transaction_id="TXN_00000001").count() == 1


def test_resending_a_batch_returns_the_stored_results_without_new_rows(scorer, active_model):
    items = {"transactions": [prototype_body(n) for n in range(1, 6)]}
    first = scorer.post(URL, items, format="json").json()
    second = scorer.post(URL, items, format="json").json()

    assert second["counts"] == {"received": 5, "created": 0, "existing": 5, "invalid": 0}
    # The first answer comes from the arrays that were stored, the second from the stored rows: the same fields.
    assert [r | {"created": False} for r in first["results"]] == second["results"]
    assert {r["model_version"] for r in first["results"]} == {active_model.version}
    assert all(isinstance(r["reasons"], list) and 0 <= r["score"] <= 1 for r in first["results"])
    assert Transaction.objects.filter(source=scorer.token.source).count() == 5
    assert Score.objects.filter(transaction__source=scorer.token.source).count() == 5


def test_an_id_repeated_within_a_batch_is_stored_and_scored_once(scorer, active_model):
    response = scorer.post(URL, {"transactions": [prototype_body(1), prototype_body(1)]}, format="json")

    assert response.status_code == 200
    assert [r["created"] for r in response.json()["results"]] == [True, False]
    assert Score.objects.filter(transaction__transaction_id="TXN_00000001").count() == 1


def test_a_batch_over_the_limit_is_refused_naming_the_field(scorer, active_model, settings):
    settings.API_BATCH_MAX_ITEMS = 3
    response = scorer.post(URL, {"transactions": [prototype_body(n) for n in range(4)]}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "transactions"
    assert "At most 3" in response.json()["errors"][0]["reason"]
    assert not Transaction.objects.filter(source=scorer.token.source).exists()


def test_an_empty_or_missing_list_is_refused(scorer, active_model):
    response = scorer.post(URL, {"rows": []}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "transactions"


def test_a_token_without_the_score_scope_cannot_send_a_batch(make_partner, active_model):
    response = make_partner("read").post(URL, {"transactions": [prototype_body()]}, format="json")

    assert response.status_code == 403
    assert not Transaction.objects.filter(transaction_id="TXN_00000001").exists()


def test_a_revoked_token_cannot_send_a_batch(revoked_client, active_model):
    response = revoked_client.post(URL, {"transactions": [prototype_body()]}, format="json")

    assert response.status_code == 401
    assert not Transaction.objects.filter(transaction_id="TXN_00000001").exists()


def test_an_outsider_cannot_send_a_batch(outsider_client, active_model):
    stored = Transaction.objects.count()

    response = outsider_client.post(URL, {"transactions": [prototype_body()]}, content_type="application/json")

    assert response.status_code == 403
    assert Transaction.objects.count() == stored
    assert not Score.objects.exists()
