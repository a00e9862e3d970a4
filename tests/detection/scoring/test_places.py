"""Card-not-present places over the partner API: stored as sent by the single and the batch endpoint (the batch's
large path too, through COPY), a bad one named by field (and by item in a batch), read back by the read endpoint."""

from detection.models import Score
from tests.detection.conftest import prototype_body
from transactions.models import Transaction

PLACES = {
    "billing_latitude": 48.85,
    "billing_longitude": 2.35,
    "billing_postal_code": "75001",
    "billing_country": "FR",
    "shipping_latitude": 52.52,
    "shipping_longitude": 13.4,
    "shipping_postal_code": "10115",
    "shipping_country": "DE",
    "ip_country": "NL",
}


def _stored_places(transaction_id: str) -> dict:
    return Transaction.objects.values(*PLACES).get(transaction_id=transaction_id)


def test_the_single_endpoint_stores_the_places(scorer, active_model):
    response = scorer.post("/api/v1/transactions/score", prototype_body(1, **PLACES), format="json")

    assert response.status_code in (200, 201), response.content
    assert _stored_places("TXN_00000001") == PLACES
    assert Score.objects.filter(transaction__transaction_id="TXN_00000001").exists()


def test_the_single_endpoint_names_a_bad_place(scorer, active_model):
    response = scorer.post("/api/v1/transactions/score", prototype_body(1, shipping_latitude=123), format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "shipping_latitude", "reason": "out of range [-90, 90]", "code": "invalid"}
    ]
    assert not Transaction.objects.filter(transaction_id="TXN_00000001").exists()


def test_a_batch_stores_places_and_names_each_bad_one_by_item_and_field(scorer, active_model):
    items = [prototype_body(1, **PLACES), prototype_body(2, ip_country="NLD"), prototype_body(3)]

    response = scorer.post("/api/v1/transactions/score/batch", {"transactions": items}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert [(e["index"], e["errors"][0]["field"]) for e in body["errors"]] == [(1, "ip_country")]
    assert _stored_places("TXN_00000001") == PLACES
    assert _stored_places("TXN_00000003")["shipping_country"] == ""


def test_a_large_batch_stores_places_through_copy(scorer, active_model):
    items = [prototype_body(n, **(PLACES if n % 2 else {})) for n in range(1, 251)]

    response = scorer.post("/api/v1/transactions/score/batch", {"transactions": items}, format="json")

    assert response.status_code == 200, response.content
    assert _stored_places("TXN_00000001") == PLACES
    assert _stored_places("TXN_00000002") == dict.fromkeys(PLACES, "") | dict.fromkeys(
        ("billing_latitude", "billing_longitude", "shipping_latitude", "shipping_longitude")
    )


def test_the_read_endpoint_returns_the_places(scorer, active_model):
    scorer.post("/api/v1/transactions/score", prototype_body(1, **PLACES), format="json")

    response = scorer.get("/api/v1/transactions/TXN_00000001")

    assert response.status_code == 200
    assert {name: response.json()[name] for name in PLACES} == PLACES
