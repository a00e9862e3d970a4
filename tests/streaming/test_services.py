"""A micro-batch of messages goes through the batch endpoint's path: each comes back a decision or a dead letter."""

import json

import pytest

from accounts.models import Organisation
from detection.models import Score
from streaming.services import (
    DECISION_FIELDS,
    OrganisationUnclear,
    messages_score,
    stream_organisation,
    stream_source,
)
from tests.detection.conftest import prototype_body
from tests.factories import default_organisation
from tests.streaming.conftest import encoded, transaction_body
from transactions.models import Source, Transaction


@pytest.fixture
def source(db):
    return stream_source(organisation=default_organisation(), name="transactions.in")


@pytest.mark.django_db
def test_a_canonical_and_a_prototype_message_are_stored_scored_and_decided(source, active_model):
    bodies = encoded([transaction_body(1), prototype_body(2, timestamp="2026-03-11 14:30:00")])

    outcome = messages_score(source=source, bodies=bodies)

    assert set(outcome.decisions) == {0, 1} and not outcome.dead_letters
    decisions = [json.loads(outcome.decisions[i]) for i in (0, 1)]
    assert [d["transaction_id"] for d in decisions] == ["s-1", "TXN_00000002"]
    assert all(tuple(d) == DECISION_FIELDS for d in decisions)
    assert decisions[0]["decision"] in ("allow", "review", "block") and decisions[0]["model_version"] == 7
    assert Transaction.objects.filter(source=source).count() == 2
    assert Score.objects.filter(transaction__source=source).count() == 2


@pytest.mark.django_db
def test_a_redelivered_message_gets_the_same_decision_and_no_second_score(source, active_model):
    body = encoded([transaction_body(1)])

    first = messages_score(source=source, bodies=body)
    again = messages_score(source=source, bodies=body)

    assert again.decisions == first.decisions
    assert (first.created, again.created) == (1, 0)
    assert Transaction.objects.filter(source=source).count() == 1
    assert Score.objects.filter(transaction__source=source).count() == 1


@pytest.mark.django_db
def test_the_same_transaction_twice_in_one_batch_is_stored_and_scored_once(source, active_model):
    outcome = messages_score(source=source, bodies=encoded([transaction_body(1), transaction_body(1)]))

    assert outcome.decisions[0] == outcome.decisions[1]
    assert Score.objects.filter(transaction__source=source).count() == 1


@pytest.mark.django_db
def test_an_invalid_message_is_a_dead_letter_naming_field_and_reason_and_the_batch_goes_on(source, active_model):
    bad = transaction_body(2) | {"amount": "-4"}
    outcome = messages_score(source=source, bodies=encoded([transaction_body(1), bad, transaction_body(3)]))

    assert set(outcome.decisions) == {0, 2}
    letter = json.loads(outcome.dead_letters[1])
    assert letter["transaction_id"] == "s-2"
    assert letter["errors"] == [{"field": "amount", "reason": "must not be negative", "code": "invalid"}]
    assert json.loads(letter["message"]) == bad
    assert not Transaction.objects.filter(transaction_id="s-2").exists()


@pytest.mark.django_db
def test_a_message_that_is_not_json_is_a_dead_letter_quoting_it(source, active_model):
    outcome = messages_score(source=source, bodies=[b"not json", b"[1, 2]"])

    first, second = json.loads(outcome.dead_letters[0]), json.loads(outcome.dead_letters[1])
    assert first["errors"][0]["code"] == "not_json" and first["message"] == "not json"
    assert second["errors"][0] == {
        "field": None,
        "reason": "A JSON object (one transaction) is required.",
        "code": "not_object",
    }
    assert not outcome.decisions


@pytest.mark.django_db
def test_a_dead_letter_quotes_a_huge_message_only_in_part(source, active_model):
    outcome = messages_score(source=source, bodies=[b"x" * 20_000])

    letter = json.loads(outcome.dead_letters[0])
    assert len(letter["message"]) == 10_000 and letter["message_truncated"] is True


@pytest.mark.django_db
def test_the_organisation_defaults_to_the_only_one():
    organisation = default_organisation()

    assert stream_organisation(None) == organisation


@pytest.mark.django_db
def test_with_several_organisations_one_must_be_named():
    default_organisation()
    Organisation.objects.create(name="second")

    with pytest.raises(OrganisationUnclear, match="--organisation"):
        stream_organisation(None)
    assert stream_organisation("second").name == "second"


@pytest.mark.django_db
def test_an_unknown_organisation_is_refused_by_name():
    with pytest.raises(OrganisationUnclear, match="nowhere"):
        stream_organisation("nowhere")


@pytest.mark.django_db
def test_the_source_is_made_once_and_an_existing_one_of_any_kind_is_taken():
    organisation = default_organisation()
    made = stream_source(organisation=organisation, name="transactions.in")
    partner = Source.objects.create(organisation=organisation, name="acme", kind=Source.Kind.IMPORT)

    assert stream_source(organisation=organisation, name="transactions.in") == made
    assert made.kind == Source.Kind.PARTNER
    assert stream_source(organisation=organisation, name="acme") == partner


@pytest.mark.django_db
def test_a_message_with_card_not_present_places_stores_them_and_a_bad_one_is_a_dead_letter_naming_the_field(
    source, active_model
):
    places = {"billing_country": "FR", "shipping_country": "DE", "shipping_latitude": 52.52, "ip_country": "NL"}
    bodies = encoded([transaction_body(1) | places, transaction_body(2) | {"shipping_latitude": 95}])

    outcome = messages_score(source=source, bodies=bodies)

    assert set(outcome.decisions) == {0} and set(outcome.dead_letters) == {1}
    assert "shipping_latitude" in outcome.dead_letters[1].decode()
    stored = Transaction.objects.values(*places).get(source=source, transaction_id="s-1")
    assert stored == places
