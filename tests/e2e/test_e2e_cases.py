"""Cases, assignment and bulk actions in a real browser (issue #24): a case page with several items, a note and an
attachment, and a decision applied to all its items; a lead assigns a case and the analyst's "mine" shows it without
reload; bulk-close of 50 selected items with its confirmation."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from review.models import Case, CaseEvent, ReviewItem
from tests.e2e.conftest import in_thread, log_in, screenshot, wait_live
from tests.e2e.seed import account_history
from tests.review.bulk import bulk_open_items
from tests.review.cases.conftest import flag
from transactions.models import Transaction

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ACCOUNT = "acct-7001"


def seed_case(count: int = 4) -> Case:
    """An account with a month of history and `count` flagged transactions today: one case."""
    now = datetime.now(tz=UTC)
    account_history(ACCOUNT, "m-electro24", now - timedelta(hours=8))
    merchants = ["m-electro24", "m-giftcards", "m-cryptox", "m-travelnow"]
    for i in range(count):
        flag(
            ACCOUNT,
            merchant_id=merchants[i % len(merchants)],
            amount=f"{480 + 310 * i}.00",
            timestamp=now - timedelta(minutes=50 - 10 * i),
            merchant_category="electronics",
        )
    return Case.objects.get(account_id=ACCOUNT)


def test_case_page_with_items_a_note_an_attachment_and_a_decision_on_all(new_page, analyst):
    case = in_thread(seed_case)
    page = new_page()
    log_in(page, "alice", next_path="/review/cases/")
    expect(page.get_by_role("heading", name="Cases")).to_be_visible()
    page.locator(f"#case-row-{case.pk}").get_by_role("link", name="Open").click()
    page.wait_for_url(f"**/review/cases/{case.pk}/")
    expect(page.locator("#case-item-rows tr.case-item-row")).to_have_count(4)
    expect(page.locator("figure.timeline svg")).to_be_visible()

    page.locator("#notes textarea").fill("Customer says the card never left the wallet")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#notes")).to_contain_text("Customer says the card never left the wallet")

    page.locator("#attachments input[type=file]").set_input_files(
        {"name": "bank-statement.txt", "mimeType": "text/plain", "buffer": b"statement: 4 disputed payments"}
    )
    page.get_by_role("button", name="Attach").click()
    expect(page.locator("#attachments").get_by_role("link", name="bank-statement.txt")).to_be_visible()
    screenshot(page, "case-page")

    page.locator("#case-decision-form").get_by_label("Fraud").check()
    page.locator("#case-decision-form textarea").fill("Confirmed with the customer: all four")
    page.get_by_role("button", name="Decide all 4 items").click()
    expect(page.locator(".messages")).to_contain_text("Decided fraud: 4 items.")
    expect(page.locator("#case-item-rows .status-fraud")).to_have_count(4)
    expect(page.locator("#case-summary")).to_contain_text("Closed")
    screenshot(page, "case-decided-all")

    assert ReviewItem.objects.filter(case=case, status="decided", decision="fraud").count() == 4
    assert Transaction.objects.filter(account_id=ACCOUNT, label=Transaction.FRAUD, review_item__case=case).count() == 4
    assert set(CaseEvent.objects.filter(case=case).values_list("kind", flat=True)) >= {
        "opened",
        "joined",
        "note",
        "attachment",
        "decision",
        "closed",
    }


def test_a_lead_assigns_a_case_and_the_analysts_mine_shows_it_without_reload(new_page, analyst, lead):
    case = in_thread(seed_case, 2)
    alice, lena = new_page(), new_page()
    log_in(alice, "alice", next_path="/review/cases/?assignee=me")
    wait_live(alice)
    expect(alice.locator("#case-rows tr")).to_have_count(0)
    log_in(lena, "lena", next_path=f"/review/cases/{case.pk}/")
    lena.locator("#case-assign-form select[name=assignee]").select_option(label="alice")
    lena.locator("#case-assign-form").get_by_role("button", name="Assign").click()
    expect(lena.locator("#case-summary")).to_contain_text("Assigned to: alice")

    row = alice.locator(f"#case-row-{case.pk}")
    expect(row).to_be_visible()
    expect(row.locator(".assignee")).to_have_text("me")
    expect(alice.locator("#case-counts")).to_contain_text("1 mine")
    screenshot(lena, "case-assigned-by-lead")
    screenshot(alice, "case-mine-live")
    assert alice.url.endswith("/review/cases/?assignee=me")  # no reload, no navigation
    assert Case.objects.get(pk=case.pk).assignee.username == "alice"


def test_bulk_close_of_fifty_selected_items_with_its_confirmation(new_page, analyst):
    in_thread(bulk_open_items, 60, prefix="imported")
    page = new_page()
    log_in(page, "alice")
    expect(page.locator("#queue-rows tr.queue-row")).to_have_count(50)
    page.locator("th.check input[data-select-all]").check()
    expect(page.locator("[data-bulk-count]")).to_have_text("50 selected")
    page.locator("#bulk-form select[name=action]").select_option("close")
    page.locator("#bulk-form input[name=note]").fill("Last year's import, not live traffic")
    screenshot(page, "bulk-selected")
    page.get_by_role("button", name="Apply…").click()

    expect(page.get_by_role("heading", name=re.compile(r"Close without a decision: 50 items\?"))).to_be_visible()
    screenshot(page, "bulk-confirm")
    assert ReviewItem.objects.filter(status="closed").count() == 0  # nothing until confirmed
    page.get_by_role("button", name="Yes, close without a decision 50 items").click()
    page.wait_for_url("**/review/")
    expect(page.locator(".messages")).to_contain_text("Closed 50 items.")
    expect(page.locator("#queue-rows tr.queue-row")).to_have_count(10)
    screenshot(page, "bulk-closed")
    assert ReviewItem.objects.filter(status="closed").count() == 50
