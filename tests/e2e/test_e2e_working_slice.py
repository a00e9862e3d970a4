"""The working slice holds, in a browser: "claim next" under a filter hands out a matching item, and every way back
from it (the `u` key, the back link, after a decision) keeps the filter; a decision says it was saved."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from review.models import ReviewItem
from review.services import review_items_create_for_scores
from tests.e2e.conftest import in_thread, log_in, screenshot, wait_live
from tests.e2e.seed import NOW, seed_queue
from tests.factories import ScoreFactory, SourceFactory, TransactionFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def flagged(account: str, merchant: str, category: str, amount: str, score: float, reason: str) -> ReviewItem:
    tx = TransactionFactory(
        source=SourceFactory(name="e2e-bank"),
        account_id=account,
        merchant_id=merchant,
        merchant_category=category,
        amount=Decimal(amount),
        timestamp=NOW - timedelta(minutes=20),
    )
    score = ScoreFactory(transaction=tx, score=score, risk_level="high", reasons=[reason])
    return review_items_create_for_scores(scores=[score])[0]


def seed_slice() -> dict[str, ReviewItem]:
    """The seeded queue, topped by an entertainment item of high risk, with two travel items of high risk below."""
    seed_queue()
    return {
        "entertainment": flagged("acct-5120", "m-cinemax", "entertainment", "640.00", 0.999, "new merchant"),
        "travel": flagged("acct-6001", "m-airline", "travel", "1180.00", 0.97, "first flight booking"),
        "travel_next": flagged("acct-6002", "m-hotels", "travel", "760.00", 0.965, "hotel far from home"),
    }


def choose_the_slice(page) -> None:
    page.select_option("#id_risk", "high")
    page.fill("#id_category", "travel")
    page.get_by_role("button", name="Apply", exact=True).click()
    expect(page.locator("#queue-rows tr.queue-row")).to_have_count(2)


def expect_the_slice(page) -> None:
    expect(page).to_have_url(re.compile(r"/review/\?(?=.*category=travel)(?=.*risk=high)"))
    expect(page.locator("#id_category")).to_have_value("travel")
    expect(page.locator("#id_risk")).to_have_value("high")
    expect(page.locator("#queue-rows tr.queue-row")).to_have_count(2)


def test_claim_next_under_a_filter_hands_out_a_matching_item_and_the_way_back_keeps_the_filter(new_page, analyst):
    items = in_thread(seed_slice)
    page = new_page()
    log_in(page, "alice")
    wait_live(page)
    choose_the_slice(page)
    screenshot(page, "slice-queue-filtered")

    page.get_by_role("button", name="Claim next").click()
    page.wait_for_url(f"**/review/transactions/{items['travel'].transaction_id}/")
    expect(page.locator(".tx-head")).to_contain_text("1,180.00")
    screenshot(page, "slice-claimed-travel")

    page.keyboard.press("u")
    page.wait_for_url("**/review/?*")
    expect_the_slice(page)
    screenshot(page, "slice-back-with-u")


def test_after_a_decision_the_queue_keeps_the_filter_and_says_it_was_saved(new_page, analyst):
    items = in_thread(seed_slice)
    page = new_page()
    log_in(page, "alice")
    choose_the_slice(page)
    page.get_by_role("button", name="Claim next").click()
    page.wait_for_url(f"**/review/transactions/{items['travel'].transaction_id}/")

    page.get_by_label("Legitimate").check()
    page.get_by_role("button", name="Save and claim next").click()
    page.wait_for_url(f"**/review/transactions/{items['travel_next'].transaction_id}/")
    expect(page.locator(".messages")).to_contain_text("Decision saved: legitimate on 1,180.00")

    page.get_by_label("Fraud").check()
    page.get_by_role("button", name="Save decision").click()
    page.wait_for_url("**/review/?*")
    expect(page.locator(".messages")).to_contain_text("Decision saved: fraud on 760.00")
    expect(page.locator("#id_category")).to_have_value("travel")
    expect(page.locator("#queue-rows tr.queue-row")).to_have_count(0)
    screenshot(page, "slice-decision-saved")
    assert ReviewItem.objects.get(pk=items["entertainment"].pk).status == "open"


def test_the_back_link_keeps_the_filter_and_the_queue_remembers_it(new_page, analyst):
    items = in_thread(seed_slice)
    page = new_page()
    log_in(page, "alice")
    choose_the_slice(page)
    page.goto(f"/review/transactions/{items['travel_next'].transaction_id}/")

    page.get_by_role("link", name="← Review queue").click()
    expect_the_slice(page)
    page.goto("/review/")
    expect_the_slice(page)
