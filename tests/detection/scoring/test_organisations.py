"""Organisations never see each other: another organisation's traffic and labels for the same account and merchant
ids change nothing in an organisation's scores and reasons, on the single and the batch path, and neither its
partners nor its people read the other's transactions."""

from datetime import timedelta

import pytest
from django.db import transaction

from accounts.services import partner_token_create
from detection.models import ModelVersion
from detection.scoring import registry
from tests.detection.conftest import START, client_for
from tests.factories import UserFactory
from transactions.models import Source, Transaction

AT = START + timedelta(days=10, hours=3)


@pytest.fixture
def other_active_model(other_organisation, trained_model):
    """The other organisation scores with a version of its own (the same trained artifact, numbered there)."""
    version = ModelVersion.objects.create(
        organisation=other_organisation, version=1, status=ModelVersion.Status.ACTIVE, **trained_model
    )
    registry.active_model_changed()
    return version


def _body(transaction_id: str, amount: float, *, minutes: int = 0, account_id: str = "acct-003") -> dict:
    return {
        "transaction_id": transaction_id,
        "timestamp": (AT + timedelta(minutes=minutes)).isoformat(),
        "account_id": account_id,
        "amount": amount,
        "merchant_id": "m-021",
        "merchant_category": "grocery",
        "channel": "in_person",
        "country": "FR",
    }


def _flood(api) -> None:
    """What partner B sent in the issue: large transactions on the victim's account and merchant, then fraud."""
    rows = [_body(f"b-{n}", 7_777.77, minutes=-50 + n) for n in range(5)]
    response = api.post("/api/v1/transactions/score/batch", {"transactions": rows}, format="json")
    assert response.status_code == 200 and response.json()["counts"]["created"] == 5
    labels = [{"transaction_id": f"b-{n}", "label": "fraud"} for n in range(5)]
    assert api.post("/api/v1/labels", {"labels": labels}, format="json").status_code == 200


def _scored_alone_and_after_the_flood(scorer, other_partner_client, send) -> tuple[dict, dict]:
    """A's answer for the same transaction without B's traffic (undone) and after it."""
    with transaction.atomic():
        alone = send(scorer, "a-1")
        transaction.set_rollback(True)
    _flood(other_partner_client)
    return alone, send(scorer, "a-1")


def _single(api, transaction_id: str) -> dict:
    response = api.post("/api/v1/transactions/score", _body(transaction_id, 42.50), format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _batch(api, transaction_id: str) -> dict:
    rows = [_body(transaction_id, 42.50), _body(f"{transaction_id}-2", 12.00, minutes=2, account_id="acct-004")]
    response = api.post("/api/v1/transactions/score/batch", {"transactions": rows}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["results"][0]


def _score_fields(answer: dict) -> dict:
    return {k: answer[k] for k in ("score", "risk_level", "is_anomaly", "reasons")}


def test_another_organisations_traffic_and_labels_change_nothing_in_a_single_score(
    active_model, other_active_model, scorer, other_partner_client
):
    alone, after = _scored_alone_and_after_the_flood(scorer, other_partner_client, _single)

    assert _score_fields(after) == _score_fields(alone)
    assert not any("7,777" in reason or "spent" in reason for reason in after["reasons"])
    assert Transaction.objects.filter(account_id="acct-003", source__organisation=other_active_model.organisation)


def test_another_organisations_traffic_and_labels_change_nothing_in_a_batch_score(
    active_model, other_active_model, scorer, other_partner_client
):
    alone, after = _scored_alone_and_after_the_flood(scorer, other_partner_client, _batch)

    assert _score_fields(after) == _score_fields(alone)


def test_the_history_cache_keeps_organisations_apart(
    settings, active_model, other_active_model, scorer, other_partner_client, monkeypatch
):
    """A batch large enough to read its history through the per-process cache, which holds every organisation's
    committed rows, scores as the SQL path does."""
    from detection.scoring import adapters

    monkeypatch.setattr(adapters, "COPY_THRESHOLD", 1)
    settings.HISTORY_CACHE = True
    alone, after = _scored_alone_and_after_the_flood(scorer, other_partner_client, _batch)

    assert _score_fields(after) == _score_fields(alone)


def test_each_organisation_scores_with_its_own_active_version(
    active_model, other_active_model, scorer, other_partner_client
):
    assert _single(scorer, "a-1")["model_version"] == active_model.version
    assert _single(other_partner_client, "b-1")["model_version"] == other_active_model.version


def test_an_organisation_without_an_active_version_is_told_so_and_stores_nothing(active_model, other_partner_client):
    response = other_partner_client.post("/api/v1/transactions/score", _body("b-1", 10.0), format="json")

    assert response.status_code == 503
    assert not Transaction.objects.filter(transaction_id="b-1").exists()


def test_a_partner_of_another_organisation_reads_none_of_its_transactions(
    active_model, other_active_model, scorer, other_partner_client
):
    _single(scorer, "a-1")

    assert other_partner_client.get("/api/v1/transactions/a-1").status_code == 404
    listed = other_partner_client.get("/api/v1/transactions").json()
    assert [t["transaction_id"] for t in listed["results"]] == []


def test_a_person_reads_only_the_organisation_they_work_in_over_the_api(
    client, active_model, other_active_model, scorer, other_partner_client, other_analyst, analyst
):
    _single(scorer, "a-1")
    _single(other_partner_client, "b-1")

    client.force_login(other_analyst)
    assert client.get("/api/v1/transactions/a-1").status_code == 404
    assert [t["transaction_id"] for t in client.get("/api/v1/transactions").json()["results"]] == ["b-1"]
    client.force_login(analyst)
    assert client.get("/api/v1/transactions/a-1").status_code == 200


def test_a_token_named_after_an_internal_source_does_not_join_it(organisation):
    Source.objects.create(organisation=organisation, name="uploads", kind=Source.Kind.UPLOAD)

    with pytest.raises(ValueError, match="internal source"):
        partner_token_create(name="uploads", scopes=["read"], organisation=organisation)


def test_a_token_may_not_take_the_uploads_name_before_any_upload(organisation):
    with pytest.raises(ValueError, match="internal source"):
        partner_token_create(name="uploads", scopes=["score"], organisation=organisation)

    assert not Source.objects.filter(name="uploads").exists()


def test_the_same_partner_name_in_two_organisations_is_two_sources(organisation, other_organisation):
    first, _ = partner_token_create(name="acme", scopes=["read"], organisation=organisation)
    second, _ = partner_token_create(name="acme", scopes=["read"], organisation=other_organisation)

    assert first.source_id != second.source_id
    assert {first.source.organisation, second.source.organisation} == {organisation, other_organisation}


def test_a_user_of_no_organisation_reads_nothing_over_the_api(client, active_model, scorer):
    _single(scorer, "a-1")
    client.force_login(UserFactory(username="nobody", roles=["analyst"], organisations=[]))

    assert client.get("/api/v1/transactions/a-1").status_code == 404
    assert client_for("atk_not-a-token").get("/api/v1/transactions").status_code == 401


def test_the_health_check_counts_organisations_and_names_none(client, active_model, other_active_model):
    checks = client.get("/healthz").json()["checks"]["model"]

    assert checks == {"ok": True, "organisations": 2}
    assert "other-org" not in client.get("/healthz").content.decode()


def test_an_import_never_writes_into_a_partners_source(organisation, tmp_path):
    from django.core.management import CommandError, call_command

    partner_token_create(name="acme", scopes=["score"], organisation=organisation)
    file = tmp_path / "acme.csv"
    file.write_text("transaction_id,timestamp,account_id,amount\nt1,2026-03-01T10:00:00Z,a1,10.00\n")

    with pytest.raises(CommandError, match="partner"):
        call_command(
            "import_transactions",
            str(file),
            "--map",
            "transaction_id=transaction_id",
            "timestamp=timestamp",
            "account_id=account_id",
            "amount=amount",
            source="acme",
            organisation=organisation.name,
        )
    assert not Transaction.objects.exists()
