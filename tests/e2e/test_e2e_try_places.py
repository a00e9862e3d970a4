"""An analyst tries an online order with its billing and shipping places and IP country, in a real browser."""

import pytest
from playwright.sync_api import expect

from detection.scoring import registry
from detection.training.services import model_version_activate, model_version_train
from tests.detection.conftest import history_source
from tests.detection.scoring.test_places_live import PLACE_WORDS, START, _payload, _targets
from tests.e2e.conftest import in_thread, log_in, screenshot
from tests.factories import default_organisation
from transactions.generator import generate
from transactions.models import Transaction
from transactions.services import transactions_ingest_rows

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _store_with_places() -> dict:
    """Three weeks of an e-commerce share stored up to a reshipping card's order, a model trained on them with the
    place features, active; that order as a sender would post it."""
    generated = generate(accounts=60, days=21, seed=3, start=START, ecommerce_share=0.6)
    first, _ = _targets(generated)
    rows = [_payload(row) for _, row in generated.iloc[:first].iterrows()]
    transactions_ingest_rows(source=history_source(), rows=rows)
    model_version_activate(version=model_version_train(organisation=default_organisation(), seed=0))
    registry.active_model_changed()
    return _payload(generated.loc[first])


def test_trying_an_order_with_its_places_gives_their_reasons(new_page, analyst):
    order = in_thread(_store_with_places)
    before = in_thread(Transaction.objects.count)
    page = new_page()
    log_in(page, analyst.username, "/detection/try/")

    page.fill("#id_account_id", order["account_id"])
    page.fill("#id_amount", f"{order['amount']:.2f}")
    page.select_option("#id_channel", order["channel"])
    page.fill("#id_merchant_id", order["merchant_id"])
    page.fill("#id_timestamp", order["timestamp"][:16])
    page.get_by_text("Card not present (optional)").click()
    for name in ("billing_latitude", "billing_longitude", "shipping_latitude", "shipping_longitude"):
        page.fill(f"#id_{name}", str(order[name]))
    page.fill("#id_billing_country", order["billing_country"])
    page.fill("#id_shipping_country", order["shipping_country"])
    page.fill("#id_ip_country", order["ip_country"])
    page.get_by_role("button", name="Score it").click()

    reasons = page.locator("#try-result .reasons li")
    expect(reasons.first).to_be_visible()
    texts = reasons.all_inner_texts()
    assert any(word in text for text in texts for word in PLACE_WORDS), texts
    expect(page.locator("#card-not-present")).to_have_attribute("open", "")
    screenshot(page, "try-order-with-places")
    assert in_thread(Transaction.objects.count) == before  # nothing stored
