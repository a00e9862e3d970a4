"""The queue policy in a browser: each offered item says why, and a confirmed fraud brings its card's other
transaction forward for review."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from detection.engine.offering import HIGH_RISK, INVESTIGATE_CARD, REASONS
from review.models import ReviewItem
from review.services import review_queue_offer
from tests.e2e.conftest import in_thread, log_in, screenshot, wait_live
from tests.e2e.seed import seed_queue
from tests.factories import ScoreFactory, SourceFactory, TransactionFactory, default_organisation

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _seed_with_the_top_cards_other_transaction() -> tuple[ReviewItem, int]:
    """The queue, offered by the policy, and a transaction of the top item's card that was not flagged."""
    top = seed_queue()[0]
    tx = top.transaction
    other = ScoreFactory(
        transaction=TransactionFactory(
            source=SourceFactory(name="e2e-bank"),
            account_id=tx.account_id,
            merchant_id="m-corner-shop",
            amount="18.40",
            timestamp=tx.timestamp - timedelta(hours=2),
        ),
        model_version=top.score.model_version,
        score=0.31,
        is_anomaly=False,
        reasons=[],
    )
    review_queue_offer(organisation_id=default_organisation().pk)
    return top, other.transaction_id


def test_a_confirmed_fraud_brings_the_cards_other_transaction_to_the_top_of_the_queue(new_page, analyst):
    top, other_transaction_id = in_thread(_seed_with_the_top_cards_other_transaction)
    page = new_page()
    log_in(page, "alice")
    wait_live(page)
    expect(page.locator(f"#item-{top.pk} .offer")).to_have_text(REASONS[HIGH_RISK])

    page.get_by_role("button", name="Claim next").click()
    page.wait_for_url(f"**/review/transactions/{top.transaction_id}/")
    expect(page.locator(".tx-status .offer")).to_have_text(f"Offered: {REASONS[HIGH_RISK]}")
    page.get_by_label("Fraud").check()
    page.get_by_role("button", name="Save decision").click()
    page.wait_for_url("**/review/")

    widened = ReviewItem.objects.get(transaction_id=other_transaction_id)
    assert (widened.status, widened.offer_reason) == ("open", INVESTIGATE_CARD)
    first_row = page.locator("#queue-rows tr.queue-row").first
    expect(first_row).to_have_id(f"item-{widened.pk}")
    expect(first_row.locator(".offer")).to_have_text(REASONS[INVESTIGATE_CARD])
    screenshot(page, "queue-offer-investigation")

    page.get_by_role("button", name="Claim next").click()
    page.wait_for_url(f"**/review/transactions/{other_transaction_id}/")
    expect(page.locator(".tx-status .offer")).to_have_text(f"Offered: {REASONS[INVESTIGATE_CARD]}")
    screenshot(page, "transaction-offer-investigation")
