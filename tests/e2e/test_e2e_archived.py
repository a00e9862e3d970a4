"""An analyst follows a link to a transaction whose month was archived, in a real browser: the page says so."""

import re
from datetime import UTC, datetime

import pytest
from django.db.models import Max
from playwright.sync_api import expect

from tests.e2e.conftest import in_thread, log_in, screenshot
from tests.e2e.seed import seed_queue
from transactions.models import Transaction, TransactionKey


def _archived_key() -> TransactionKey:
    """The state `manage.py archive` leaves: the key of a transaction whose row is gone with its month."""
    top = seed_queue()[0]
    source_id = Transaction.objects.filter(pk=top.transaction_id).values_list("source_id", flat=True).get()
    pk = Transaction.objects.aggregate(last=Max("pk"))["last"] + 1000
    when = datetime(2018, 1, 14, 9, 30, tzinfo=UTC)
    return TransactionKey.objects.create(id=pk, source_id=source_id, transaction_id="ARCHIVED-1", timestamp=when)


pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_analyst_opening_an_archived_transaction_reads_that_its_month_was_archived(new_page, analyst):
    key = in_thread(_archived_key)
    page = new_page()
    log_in(page, "alice")
    response = page.goto(f"/review/transactions/{key.pk}/")
    assert response.status == 410
    card = page.locator("#archived-transaction")
    expect(card.get_by_role("heading", name="Transaction archived")).to_be_visible()
    expect(card).to_contain_text("ARCHIVED-1")
    expect(card).to_contain_text("2018-01")
    screenshot(page, "transaction-archived")
    page.get_by_role("link", name="← Queue").click()
    expect(page).to_have_url(re.compile(r"/review/"))
