"""An analyst reads a card-not-present order's places on its transaction page, in a real browser."""

import pytest
from playwright.sync_api import expect

from detection.models import Score
from tests.e2e.conftest import in_thread, log_in, screenshot
from tests.e2e.seed import seed_queue
from transactions.models import Transaction

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RESHIPPED = {
    "billing_latitude": 38.7223,
    "billing_longitude": -9.1393,
    "billing_postal_code": "1100-148",
    "billing_country": "PT",
    "shipping_latitude": 13.7563,
    "shipping_longitude": 100.5018,
    "shipping_postal_code": "D0003",
    "shipping_country": "TH",
    "ip_country": "TH",
}
REASONS = [
    "goods shipped 10,684 km from the billing address",
    "first order shipped to this place for this account in 30 days",
    "the customer's IP address is in another country than the billing address",
]


def _reshipped_order():
    top = seed_queue()[0]
    Transaction.objects.filter(pk=top.transaction_id).update(**RESHIPPED)
    Score.objects.filter(pk=top.score_id).update(reasons=REASONS)
    return top


def test_analyst_sees_where_an_order_was_billed_and_shipped_and_the_ip_country(new_page, analyst):
    top = in_thread(_reshipped_order)
    page = new_page()
    log_in(page, "alice")
    page.goto(f"/review/transactions/{top.transaction_id}/")
    section = page.locator("#card-not-present")
    expect(section.get_by_role("heading", name="Card not present")).to_be_visible()
    expect(section).to_contain_text("1100-148 PT (38.7223, -9.1393)")
    expect(section).to_contain_text("D0003 TH (13.7563, 100.5018)")
    expect(section).to_contain_text("10,684 km")  # between them, as the reason says
    expect(section.locator(".status-fraud")).to_have_text("not the billing country")
    expect(page.locator("ol.reasons li")).to_have_count(3)
    section.scroll_into_view_if_needed()
    screenshot(page, "transaction-card-not-present")
