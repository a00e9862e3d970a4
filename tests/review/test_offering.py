"""The queue policy in the product: what the review queue offers within the daily budget, and why."""

import pytest
from django.utils import timezone

from detection.engine import offering
from review import services
from review.models import ReviewItem
from review.services import OFFER_PRIORITY, review_claim, review_claim_next, review_decide, review_queue_offer
from tests.factories import ReviewItemFactory, ScoreFactory, SourceFactory, TransactionFactory
from tests.review.bulk import Spread, bulk_open_items

SPREAD = Spread(accounts=6, merchants=6)


@pytest.fixture
def six_items(db):
    return bulk_open_items(6, prefix="offer", spread=SPREAD)


def _by_priority():
    return list(ReviewItem.objects.filter(status="open").order_by("-priority", "created_at", "pk"))


def test_the_queue_uses_the_engines_policy_function_the_backtest_replays():
    assert services.offer is offering.offer


def test_the_policy_offers_the_highest_risk_first_and_says_why(six_items, organisation):
    offered = review_queue_offer(organisation_id=organisation.pk)

    assert offered == 6
    first = _by_priority()[0]
    assert first.score.score == max(item.score.score for item in six_items)
    assert first.offer_reason == offering.HIGH_RISK
    assert first.priority > OFFER_PRIORITY


def test_the_daily_budget_limits_what_is_offered(six_items, organisation, settings):
    settings.REVIEW_BUDGET_PER_DAY = 2

    offered = review_queue_offer(organisation_id=organisation.pk)

    assert offered == 2
    assert ReviewItem.objects.exclude(offer_reason="").count() == 2
    assert ReviewItem.objects.filter(priority__gt=OFFER_PRIORITY).count() == 2


def test_items_taken_today_count_against_the_budget(six_items, organisation, analyst, settings):
    settings.REVIEW_BUDGET_PER_DAY = 3
    review_claim(item=six_items[0], user=analyst)

    offered = review_queue_offer(organisation_id=organisation.pk)

    assert offered == 2
    assert ReviewItem.objects.filter(status="open").exclude(offer_reason="").count() == 2


def test_a_confirmed_fraud_brings_its_cards_other_transactions_into_the_queue(
    six_items, organisation, analyst, settings
):
    settings.REVIEW_INVESTIGATE_SHARE = 0.5  # room for both investigations (the merchant's fills its share first)
    fraud = six_items[0]
    same_card = ScoreFactory(
        transaction=TransactionFactory(
            source=fraud.transaction.source,
            account_id=fraud.transaction.account_id,
            merchant_id="elsewhere",
            timestamp=fraud.transaction.timestamp,
        ),
        score=0.2,
        is_anomaly=False,
    )

    review_decide(item=fraud, user=analyst, decision="fraud")

    item = ReviewItem.objects.get(transaction=same_card.transaction)
    assert (item.status, item.origin, item.offer_reason) == ("open", "live", offering.INVESTIGATE_CARD)
    assert _by_priority()[0].pk == item.pk


def item_at_the_same_merchant(fraud, *, score: float):
    """Another card's item at the fraud's merchant, at the same time, with this score."""
    return ReviewItemFactory(
        score__transaction__source=fraud.transaction.source,
        score__transaction__merchant_id=fraud.transaction.merchant_id,
        score__transaction__account_id="someone-else",
        score__transaction__timestamp=fraud.transaction.timestamp,
        score__score=score,
    )


def test_a_confirmed_fraud_brings_its_merchants_other_items_forward(six_items, organisation, analyst, settings):
    settings.REVIEW_INVESTIGATE_SHARE = 0.5
    fraud = six_items[0]
    same_merchant = item_at_the_same_merchant(fraud, score=0.5)

    review_decide(item=fraud, user=analyst, decision="fraud")

    same_merchant.refresh_from_db()
    assert same_merchant.offer_reason == offering.INVESTIGATE_MERCHANT
    assert review_claim_next(organisation_id=organisation.pk, user=analyst).pk == same_merchant.pk


def test_the_investigations_setting_decides_which_a_fraud_opens(six_items, organisation, analyst, settings):
    settings.REVIEW_INVESTIGATE = "card"
    fraud = six_items[0]
    same_merchant = item_at_the_same_merchant(fraud, score=0.01)

    review_decide(item=fraud, user=analyst, decision="fraud")

    same_merchant.refresh_from_db()
    assert same_merchant.offer_reason != offering.INVESTIGATE_MERCHANT


def test_a_legitimate_decision_widens_nothing(six_items, organisation, analyst):
    TransactionFactory(source=six_items[0].transaction.source, account_id=six_items[0].transaction.account_id)

    review_decide(item=six_items[0], user=analyst, decision="legitimate")

    assert ReviewItem.objects.count() == 6
    assert not ReviewItem.objects.filter(offer_reason__startswith="investigate").exists()


def test_another_organisations_fraud_widens_nothing_here(six_items, organisation, other_organisation):
    mine = six_items[1].transaction
    TransactionFactory(
        source=SourceFactory(name="theirs", organisation=other_organisation),
        account_id=mine.account_id,
        merchant_id=mine.merchant_id,
        label=1,
        labelled_at=timezone.now(),
    )

    review_queue_offer(organisation_id=organisation.pk)

    assert not ReviewItem.objects.filter(offer_reason__startswith="investigate").exists()


def test_the_queue_page_shows_why_an_item_is_offered(six_items, organisation, analyst_client):
    review_queue_offer(organisation_id=organisation.pk)

    response = analyst_client.get("/review/")

    assert response.status_code == 200
    assert offering.REASONS[offering.HIGH_RISK] in response.content.decode()


def test_the_transaction_page_shows_why_its_item_is_offered(six_items, organisation, analyst_client):
    review_queue_offer(organisation_id=organisation.pk)
    item = _by_priority()[0]

    response = analyst_client.get(f"/review/transactions/{item.transaction_id}/")

    assert response.status_code == 200
    assert f"Offered: {offering.REASONS[offering.HIGH_RISK]}" in response.content.decode()


def test_the_beat_task_offers_each_organisations_queue(six_items, organisation):
    from review.tasks import review_queue_offer_all_task

    assert review_queue_offer_all_task() == 1
    assert ReviewItem.objects.exclude(offer_reason="").count() == 6
