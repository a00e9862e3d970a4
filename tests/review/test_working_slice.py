"""The working slice holds: "claim next" takes the next item matching the filters in force, the filters persist in
the session and every way back from an item keeps them, and a decision says it was saved."""

from decimal import Decimal

import pytest
from django.urls import reverse

from review.models import ReviewItem
from tests.factories import ReviewItemFactory, ScoreFactory, TransactionFactory
from transactions.models import Transaction

pytestmark = pytest.mark.django_db
QUEUE = reverse("review:queue")
CLAIM_NEXT = reverse("review:claim_next")
SLICE = {"category": "travel", "risk": "high"}
SLICE_URL = f"{QUEUE}?risk=high&category=travel"


def item(category: str, risk: str = "high", score: float = 0.9) -> ReviewItem:
    tx = TransactionFactory(merchant_category=category, amount=Decimal("50.00"))
    return ReviewItemFactory(score=ScoreFactory(transaction=tx, risk_level=risk, score=score))


@pytest.fixture
def mixed_queue(db):
    """The entertainment item comes first in the queue's order; the travel one of high risk is the slice's."""
    return {
        "entertainment": item("entertainment", score=0.99),
        "travel_critical": item("travel", risk="critical", score=0.98),
        "travel_high": item("travel", score=0.91),
    }


def test_claim_next_takes_the_next_item_matching_the_filters_in_force(analyst_client, analyst, mixed_queue):
    analyst_client.get(QUEUE, SLICE)

    response = analyst_client.post(CLAIM_NEXT)

    claimed = mixed_queue["travel_high"]
    assert response["Location"] == reverse("review:transaction", args=[claimed.transaction_id])
    claimed.refresh_from_db()
    assert (claimed.status, claimed.assignee) == ("in_review", analyst)
    assert ReviewItem.objects.filter(status="open").count() == 2


def test_claim_next_without_filters_takes_the_top_of_the_queue(analyst_client, mixed_queue):
    response = analyst_client.post(CLAIM_NEXT)

    assert response["Location"] == reverse("review:transaction", args=[mixed_queue["entertainment"].transaction_id])


def test_claim_next_follows_the_queues_chosen_order(analyst_client):
    small, large = item("travel", score=0.99), item("travel", score=0.9)
    Transaction.objects.filter(pk=large.transaction_id).update(amount=Decimal("900.00"))
    analyst_client.get(QUEUE, {"sort": "amount"})

    response = analyst_client.post(CLAIM_NEXT)

    assert response["Location"] == reverse("review:transaction", args=[large.transaction_id])
    assert ReviewItem.objects.get(pk=small.pk).status == "open"


def test_claim_next_with_nothing_matching_claims_nothing_and_says_so(analyst_client, mixed_queue):
    analyst_client.get(QUEUE, {"category": "fuel"})

    response = analyst_client.post(CLAIM_NEXT, follow=True)

    assert response.redirect_chain[0][0] == f"{QUEUE}?category=fuel"
    assert "Nothing left to claim under these filters." in response.content.decode()
    assert not ReviewItem.objects.filter(status="in_review").exists()


def test_the_queue_without_a_query_shows_the_filters_last_used(analyst_client, mixed_queue):
    analyst_client.get(QUEUE, SLICE)

    response = analyst_client.get(QUEUE)

    assert (response.status_code, response["Location"]) == (302, SLICE_URL)


def test_the_filters_last_used_are_the_users_own(client, analyst, second_analyst, mixed_queue):
    client.force_login(analyst)
    client.get(QUEUE, SLICE)
    client.force_login(second_analyst)

    assert client.get(QUEUE).status_code == 200


def test_reset_clears_the_saved_filters(analyst_client, mixed_queue):
    analyst_client.get(QUEUE, SLICE)
    analyst_client.get(QUEUE, {"reset": "1"})

    response = analyst_client.get(QUEUE)

    assert response.status_code == 200
    assert len(response.context["page"].object_list) == 3


def test_turning_a_page_keeps_the_saved_filters(analyst_client, mixed_queue):
    analyst_client.get(QUEUE, SLICE)
    analyst_client.get(QUEUE, {"page": "1"})

    assert analyst_client.get(QUEUE)["Location"] == SLICE_URL


def test_filters_changed_by_htmx_are_saved_too(analyst_client, mixed_queue):
    analyst_client.get(QUEUE, SLICE, headers={"HX-Request": "true"})

    assert analyst_client.get(QUEUE)["Location"] == SLICE_URL


def test_the_items_back_link_returns_to_the_queue_under_its_filters(analyst_client, mixed_queue):
    analyst_client.get(QUEUE, SLICE)

    response = analyst_client.get(reverse("review:transaction", args=[mixed_queue["travel_high"].transaction_id]))

    body = response.content.decode()
    assert f'<a href="{SLICE_URL.replace("&", "&amp;")}" data-shortcut-back>' in body


def test_after_a_decision_the_queue_keeps_its_filters_and_says_it_was_saved(analyst_client, mixed_queue):
    analyst_client.get(QUEUE, SLICE)
    target = mixed_queue["travel_high"]
    page = analyst_client.get(reverse("review:transaction", args=[target.transaction_id]))
    next_url = page.context["back_url"]

    response = analyst_client.post(
        reverse("review:decide", args=[target.pk]), {"decision": "fraud", "next": next_url}, follow=True
    )

    assert response.redirect_chain[-1][0] == SLICE_URL
    assert "Decision saved: fraud on 50.00 EUR of" in response.content.decode()


def test_a_decision_without_a_way_back_returns_to_the_queue_under_its_filters(analyst_client, mixed_queue):
    analyst_client.get(QUEUE, SLICE)

    response = analyst_client.post(
        reverse("review:decide", args=[mixed_queue["travel_high"].pk]), {"decision": "fraud"}
    )

    assert response["Location"] == SLICE_URL


def test_save_and_claim_next_claims_within_the_filters(analyst_client, mixed_queue):
    analyst_client.get(QUEUE, SLICE)
    first = mixed_queue["travel_high"]
    another = item("travel", score=0.9)

    response = analyst_client.post(
        reverse("review:decide", args=[first.pk]), {"decision": "legitimate", "then": "next"}
    )

    assert response["Location"] == reverse("review:transaction", args=[another.transaction_id])


def test_a_decision_made_in_the_queue_says_it_was_saved(analyst_client, mixed_queue):
    target = mixed_queue["entertainment"]

    response = analyst_client.post(
        reverse("review:decide", args=[target.pk]), {"decision": "legitimate"}, headers={"HX-Request": "true"}
    )

    body = response.content.decode()
    assert '<div id="flash" class="flash" role="status" hx-swap-oob="true">Decision saved: legitimate' in body


def test_a_refused_decision_in_the_queue_is_shown_as_an_error(analyst_client, second_analyst, mixed_queue):
    target = mixed_queue["entertainment"]
    ReviewItem.objects.filter(pk=target.pk).update(status="in_review", assignee=second_analyst)

    response = analyst_client.post(
        reverse("review:decide", args=[target.pk]), {"decision": "fraud"}, headers={"HX-Request": "true"}
    )

    assert 'class="flash error"' in response.content.decode()
