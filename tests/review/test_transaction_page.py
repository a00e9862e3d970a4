from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from review.places import card_not_present
from review.services import review_claim, review_decide
from tests.factories import ReviewItemFactory, ScoreFactory, TransactionFactory
from transactions.models import Transaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def flagged():
    """A flagged transaction with three earlier ones on its account and one earlier at its merchant."""
    tx = TransactionFactory(account_id="acct-A", merchant_id="m-1", amount=Decimal("900.00"))
    for days in (1, 2, 3):
        TransactionFactory(account_id="acct-A", merchant_id="m-2", timestamp=tx.timestamp - timedelta(days=days))
    TransactionFactory(account_id="acct-B", merchant_id="m-1", timestamp=tx.timestamp - timedelta(hours=2))
    score = ScoreFactory(
        transaction=tx, score=0.991, risk_level="critical", reasons=["amount 9x the usual", "first use of this device"]
    )
    return ReviewItemFactory(score=score)


def _page(client, tx_pk):
    return client.get(reverse("review:transaction", args=[tx_pk]))


def test_page_shows_the_score_risk_and_reasons_in_words(analyst_client, flagged):
    response = _page(analyst_client, flagged.transaction_id)
    assert response.status_code == 200
    body = response.content.decode()
    assert "0.991" in body and "Critical risk" in body
    assert "<li>amount 9x the usual</li>" in body and "<li>first use of this device</li>" in body


def test_timeline_draws_the_account_history_with_this_transaction_marked(analyst_client, flagged):
    response = _page(analyst_client, flagged.transaction_id)
    assert [t.pk for t in response.context["history"]][-1] == flagged.transaction_id
    assert len(response.context["history"]) == 4
    body = response.content.decode()
    assert body.count('class="pt normal"') == 3 and body.count('data-marked="true"') == 1


def test_merchant_activity_counts_the_merchants_recent_transactions(analyst_client, flagged):
    merchant = _page(analyst_client, flagged.transaction_id).context["merchant"]
    assert merchant["stats"]["day"] == 2 and merchant["stats"]["accounts"] == 2
    assert [m.account_id for m in merchant["recent"]] == ["acct-B"]


def test_earlier_decisions_on_the_same_account_are_listed(analyst_client, analyst, flagged):
    earlier = ReviewItemFactory(score=ScoreFactory(transaction=TransactionFactory(account_id="acct-A")))
    review_decide(item=earlier, user=analyst, decision="fraud", note="confirmed")
    ReviewItemFactory(score=ScoreFactory(transaction=TransactionFactory(account_id="acct-Z", merchant_id="m-9")))
    related = list(_page(analyst_client, flagged.transaction_id).context["related"])
    assert [d.item_id for d in related] == [earlier.pk]


def test_analyst_gets_the_decision_form(analyst_client, flagged):
    body = _page(analyst_client, flagged.transaction_id).content.decode()
    assert 'id="decision-form"' in body
    assert reverse("review:decide", args=[flagged.pk]) in body


def test_item_claimed_by_someone_else_shows_no_decision_form(analyst_client, second_analyst, flagged):
    review_claim(item=flagged, user=second_analyst)
    body = _page(analyst_client, flagged.transaction_id).content.decode()
    assert 'id="decision-form"' not in body and "Claimed by bob" in body


def test_decided_item_shows_its_decision_and_history(analyst_client, analyst, flagged):
    review_decide(item=flagged, user=analyst, decision="legitimate", note="customer confirmed the purchase")
    body = _page(analyst_client, flagged.transaction_id).content.decode()
    assert 'id="decision-form"' not in body
    assert "Decided <strong>legitimate</strong> by alice" in body and "customer confirmed the purchase" in body


def test_viewer_reads_the_page_without_the_decision_form(client, viewer, flagged):
    client.force_login(viewer)
    response = _page(client, flagged.transaction_id)
    assert response.status_code == 200
    assert b'id="decision-form"' not in response.content and b"needs the analyst role" in response.content


def test_outsider_gets_not_found(client, outsider, flagged):
    client.force_login(outsider)
    assert _page(client, flagged.transaction_id).status_code == 404


def test_unknown_transaction_is_not_found(analyst_client, db):
    assert _page(analyst_client, 987654).status_code == 404


def test_transaction_outside_the_queue_renders_without_a_decision(analyst_client, db):
    tx = TransactionFactory()
    response = _page(analyst_client, tx.pk)
    assert response.status_code == 200
    assert b"Not in the review queue" in response.content


def test_a_card_not_present_order_shows_its_places_and_what_they_say(analyst_client, flagged):
    Transaction.objects.filter(pk=flagged.transaction_id).update(
        billing_latitude=48.8566,
        billing_longitude=2.3522,
        billing_postal_code="75001",
        billing_country="FR",
        shipping_latitude=52.52,
        shipping_longitude=13.405,
        shipping_postal_code="D0003",
        shipping_country="DE",
        ip_country="TH",
    )

    body = _page(analyst_client, flagged.transaction_id).content.decode()

    assert 'id="card-not-present"' in body
    assert "75001 FR (48.8566, 2.3522)" in body and "D0003 DE (52.5200, 13.4050)" in body
    assert "877 km" in body  # Paris to Berlin
    assert "TH" in body and "not the billing country" in body


def test_an_order_without_places_shows_no_card_not_present_section(analyst_client, flagged):
    body = _page(analyst_client, flagged.transaction_id).content.decode()

    assert 'id="card-not-present"' not in body


def test_an_ip_country_alone_is_shown_without_a_mismatch():
    places = card_not_present(Transaction(ip_country="FR"))

    assert places is not None and places.ip_country == "FR" and not places.ip_differs
    assert places.billing_shipping_km is None and not places.billing
