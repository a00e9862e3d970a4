from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from review.models import ReviewItem
from review.services import review_claim
from tests.factories import ReviewItemFactory, ScoreFactory, TransactionFactory
from tests.review.bulk import bulk_open_items

pytestmark = pytest.mark.django_db
QUEUE = reverse("review:queue")


def _rows(response) -> list[int]:
    return [item.pk for item in response.context["page"].object_list]


def test_home_redirects_to_the_queue(analyst_client):
    response = analyst_client.get("/")
    assert response.status_code == 302
    assert response["Location"] == QUEUE


def test_queue_lists_open_items_by_priority(analyst_client, open_items):
    response = analyst_client.get(QUEUE)
    assert response.status_code == 200
    assert _rows(response) == [i.pk for i in sorted(open_items, key=lambda i: (-i.priority, i.pk))]
    assert b'id="claim-next-form"' in response.content


def test_queue_row_shows_risk_amount_account_and_top_reason(analyst_client):
    tx = TransactionFactory(amount=Decimal("1234.50"), account_id="acct-777", merchant_id="m-9")
    ReviewItemFactory(score=ScoreFactory(transaction=tx, reasons=["night-time purchase abroad", "new device"]))
    body = analyst_client.get(QUEUE).content.decode()
    assert "1,234.50" in body and "acct-777" in body and "m-9" in body
    assert "night-time purchase abroad" in body and "new device" not in body
    assert 'class="risk risk-high"' in body


def test_htmx_request_gets_only_the_table_partial(analyst_client, open_items):
    response = analyst_client.get(QUEUE, headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="queue-table">')
    assert "<html" not in body


def test_decided_items_are_hidden_by_default(analyst_client, open_items):
    ReviewItem.objects.filter(pk=open_items[0].pk).update(status="decided", decision="fraud")
    assert open_items[0].pk not in _rows(analyst_client.get(QUEUE))
    assert _rows(analyst_client.get(QUEUE, {"status": "decided"})) == [open_items[0].pk]


def test_filter_by_risk_level(analyst_client, open_items):
    ReviewItem.objects.get(pk=open_items[1].pk).score.__class__.objects.filter(pk=open_items[1].score_id).update(
        risk_level="critical"
    )
    assert _rows(analyst_client.get(QUEUE, {"risk": "critical"})) == [open_items[1].pk]


def test_filter_by_amount_range(analyst_client, open_items):
    amounts = {i.pk: i.transaction.amount for i in open_items}  # 10, 11, 12
    response = analyst_client.get(QUEUE, {"min_amount": "10.50", "max_amount": "11.50"})
    assert _rows(response) == [pk for pk, amount in amounts.items() if amount == 11]


def test_filter_by_merchant_category_ignores_case(analyst_client, open_items):
    assert _rows(analyst_client.get(QUEUE, {"category": "GROCERY"})) == [open_items[1].pk]


def test_filter_assigned_to_me_and_unassigned(analyst_client, analyst, second_analyst, open_items):
    review_claim(item=open_items[0], user=analyst)
    review_claim(item=open_items[1], user=second_analyst)
    assert _rows(analyst_client.get(QUEUE, {"assignee": "me"})) == [open_items[0].pk]
    assert _rows(analyst_client.get(QUEUE, {"assignee": "unassigned"})) == [open_items[2].pk]


def test_filter_needs_info(analyst_client, analyst, open_items):
    ReviewItem.objects.filter(pk=open_items[2].pk).update(status="in_review", assignee=analyst, decision="needs_info")
    assert _rows(analyst_client.get(QUEUE, {"status": "needs_info"})) == [open_items[2].pk]


def test_filter_by_minimum_age(analyst_client, open_items):
    ReviewItem.objects.filter(pk=open_items[0].pk).update(created_at=timezone.now() - timedelta(hours=5))
    assert _rows(analyst_client.get(QUEUE, {"min_age": "240"})) == [open_items[0].pk]


def test_sort_by_amount_puts_the_largest_first(analyst_client, open_items):
    rows = _rows(analyst_client.get(QUEUE, {"sort": "amount"}))
    assert rows == [i.pk for i in sorted(open_items, key=lambda i: -i.transaction.amount)]


def test_sort_by_age_puts_the_oldest_first(analyst_client, open_items):
    ReviewItem.objects.filter(pk=open_items[2].pk).update(created_at=timezone.now() - timedelta(days=1))
    assert _rows(analyst_client.get(QUEUE, {"sort": "age"}))[0] == open_items[2].pk


def test_invalid_filters_are_ignored(analyst_client, open_items):
    response = analyst_client.get(QUEUE, {"min_amount": "lots", "risk": "apocalyptic", "sort": "vibes"})
    assert response.status_code == 200
    assert len(_rows(response)) == 3


def test_queue_pages_by_fifty(analyst_client):
    bulk_open_items(120)
    first, third = analyst_client.get(QUEUE), analyst_client.get(QUEUE, {"page": 3})
    assert (len(_rows(first)), len(_rows(third))) == (50, 20)
    assert b"1\xe2\x80\x9350 of 120" in first.content


def test_sla_age_turns_amber_then_red(analyst_client, open_items, settings):
    settings.REVIEW_SLA_AMBER_MINUTES, settings.REVIEW_SLA_RED_MINUTES = 60, 240
    with time_machine.travel(timezone.now() + timedelta(minutes=90)):
        assert b"age age-amber" in analyst_client.get(QUEUE).content
    with time_machine.travel(timezone.now() + timedelta(hours=5)):
        assert b"age age-red" in analyst_client.get(QUEUE).content


def test_queue_counts_open_in_review_and_mine(analyst_client, analyst, open_items):
    review_claim(item=open_items[0], user=analyst)
    counts = analyst_client.get(QUEUE).context["counts"]
    assert counts == {"open": 2, "in_review": 1, "needs_info": 0, "mine": 1}


@pytest.mark.parametrize("count", [10, 10_000])
def test_queue_renders_with_the_same_number_of_queries_for_10_and_10000_items(
    analyst_client, count, django_assert_num_queries
):
    bulk_open_items(count)
    # session, user, the request's organisation, the organisation chooser, user permissions, group permissions,
    # the live sources (the source filter's choices), counts, page count, page rows
    with django_assert_num_queries(10):
        response = analyst_client.get(QUEUE)
    assert response.status_code == 200
    assert len(_rows(response)) == min(count, 50)
