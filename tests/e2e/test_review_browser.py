"""What an analyst, a viewer and a stranger see and can do in the review workspace, in a real browser."""

import re

import pytest
from playwright.sync_api import expect

from review.models import ReviewDecision, ReviewItem
from tests.e2e.conftest import in_thread, log_in, screenshot, wait_live
from tests.e2e.seed import flag_new_transaction, seed_queue
from tests.factories import UserFactory
from transactions.models import Transaction

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_anonymous_visitor_is_sent_to_login(new_page):
    page = new_page()
    page.goto("/review/")
    expect(page).to_have_url("/accounts/login/?next=/review/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    screenshot(page, "login")


def test_analyst_logs_in_and_lands_on_the_queue(new_page, analyst):
    in_thread(seed_queue)
    page = new_page()
    log_in(page, "alice", next_path="/")
    page.wait_for_url("**/review/")
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    expect(page.locator("#queue-rows tr.queue-row")).to_have_count(6)
    wait_live(page)
    screenshot(page, "queue")


def test_analyst_claims_the_next_item_and_decides_it_fraud(new_page, analyst):
    top = in_thread(seed_queue)[0]
    page = new_page()
    log_in(page, "alice")
    page.get_by_role("button", name="Claim next").click()
    page.wait_for_url(f"**/review/transactions/{top.transaction_id}/")
    expect(page.locator("ol.reasons li")).to_have_count(3)
    expect(page.locator("svg circle[data-marked=true]")).to_have_count(1)
    screenshot(page, "transaction")
    page.get_by_label("Fraud").check()
    page.locator("#decision-form textarea").fill("Customer confirmed the card was stolen")
    page.get_by_role("button", name="Save decision").click()
    page.wait_for_url("**/review/")
    item = ReviewItem.objects.get(pk=top.pk)
    assert (item.status, item.decision, item.decided_by.username) == ("decided", "fraud", "alice")
    assert Transaction.objects.get(pk=top.transaction_id).label == Transaction.FRAUD
    expect(page.locator(f"#item-{top.pk}")).to_have_count(0)


def test_analyst_decides_from_the_queue_with_the_keyboard(new_page, analyst):
    items = in_thread(seed_queue)
    page = new_page()
    log_in(page, "alice")
    wait_live(page)
    page.keyboard.press("j")
    expect(page.locator(f"#item-{items[0].pk}")).to_have_class(re.compile(r"\bselected\b"))
    page.keyboard.press("l")
    expect(page.locator("#decide-dialog")).to_be_visible()
    page.keyboard.type("Known customer, travelling")
    screenshot(page, "queue-decision-dialog")
    page.keyboard.press("Control+Enter")
    expect(page.locator(f"#item-{items[0].pk}")).to_have_count(0)  # decided: it leaves the open queue
    expect(page.locator(f"#item-{items[1].pk}")).to_have_class(re.compile(r"\bselected\b"))  # ready for the next
    entry = ReviewDecision.objects.get(item_id=items[0].pk)
    assert (entry.decision, entry.note, entry.user.username) == ("legitimate", "Known customer, travelling", "alice")
    assert Transaction.objects.get(pk=items[0].transaction_id).label == Transaction.LEGITIMATE


def test_second_browser_sees_a_new_flagged_transaction_and_a_claim_live(new_page, analyst, second_analyst):
    in_thread(seed_queue)
    alice, bob = new_page(), new_page()
    log_in(alice, "alice")
    log_in(bob, "bob")
    wait_live(alice)
    wait_live(bob)
    item = in_thread(flag_new_transaction)
    for page in (alice, bob):
        expect(page.locator(f"#item-{item.pk}")).to_be_visible()
        expect(page.locator("#queue-rows tr.queue-row")).to_have_count(7)
    expect(bob.locator(f"#item-{item.pk} .reason")).to_have_text("crypto exchange never used by this account")
    alice.locator(f"#item-{item.pk}").get_by_role("button", name="Claim").click()
    expect(alice.locator(f"#item-{item.pk}")).to_contain_text("me")
    expect(bob.locator(f"#item-{item.pk}")).to_contain_text("alice")
    expect(bob.locator(f"#item-{item.pk}").get_by_role("button", name="Claim")).to_have_count(0)
    screenshot(bob, "queue-live-update")
    assert ReviewItem.objects.get(pk=item.pk).assignee.username == "alice"


def test_viewer_reads_but_cannot_decide(new_page, viewer):
    top = in_thread(seed_queue)[0]
    page = new_page()
    log_in(page, "victor")
    expect(page.locator("#queue-rows tr.queue-row")).to_have_count(6)
    expect(page.get_by_role("button", name="Claim next")).to_have_count(0)
    expect(page.get_by_role("button", name="Claim", exact=True)).to_have_count(0)
    page.goto(f"/review/transactions/{top.transaction_id}/")
    expect(page.locator("#decision-form")).to_have_count(0)
    expect(page.get_by_text("deciding needs the analyst role")).to_be_visible()
    screenshot(page, "transaction-viewer")
    status = page.evaluate(
        """async (url) => {
            const token = JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken'];
            const body = new URLSearchParams({decision: 'fraud'});
            const response = await fetch(url, {method: 'POST', body, headers: {'X-CSRFToken': token}});
            return response.status;
        }""",
        f"/review/items/{top.pk}/decide/",
    )
    assert status == 403
    assert ReviewItem.objects.get(pk=top.pk).status == "open"


def test_outsider_is_refused_the_queue(new_page, db):
    UserFactory(username="mallory")
    page = new_page()
    log_in(page, "mallory", next_path="/accounts/password/")
    response = page.goto("/review/")
    assert response.status == 403
