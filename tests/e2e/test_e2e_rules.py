"""A rule from the editor to the decision (issue #23): an admin writes a rule with a typo and sees the error at its
position, fixes it, tests it on history (a real worker) and reads hits and precision, publishes it; a partner's score
answer then carries `decision: "block"` naming the rule; an analyst sees the item the rule queued, its name first."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from rules.models import RuleTest, RuleVersion
from tests.detection.conftest import active_model, history, trained_model  # noqa: F401 - fixtures
from tests.detection.jobs.conftest import celery_worker_process  # noqa: F401 - fixture
from tests.e2e.conftest import log_in, screenshot
from tests.factories import SourceFactory, TransactionFactory

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

TYPO = 'amount > 300 and merchnt_id == "m-bad"'
FIXED = 'amount > 300 and merchant_id == "m-bad"'


def recent_history(organisation) -> None:
    """The last three days: four payments over 300 at m-bad (three labelled fraud, one legitimate) among others."""
    source = SourceFactory(organisation=organisation, name="recent")
    now = timezone.now()
    rows = [("m-bad", "400", 1), ("m-bad", "450", 1), ("m-bad", "380", 1), ("m-bad", "320", 0), ("m-bad", "40", 0)]
    rows += [(f"m-{k}", str(20 + k), None) for k in range(7)]
    for k, (merchant, amount, label) in enumerate(rows):
        at = now - timedelta(hours=6 + 5 * k)
        TransactionFactory(
            source=source,
            transaction_id=f"recent-{k}",
            account_id=f"acct-r{k % 4}",
            merchant_id=merchant,
            amount=Decimal(amount),
            timestamp=at,
            label=label,
            labelled_at=None if label is None else at + timedelta(hours=1),
        )


@pytest.mark.usefixtures("active_model")
def test_a_rule_written_tested_and_published_blocks_and_queues(
    new_page,
    admin_user,
    analyst,
    organisation,
    partner_token,
    celery_worker_process,  # noqa: F811
):
    recent_history(organisation)
    celery_worker_process()
    page = new_page()
    log_in(page, admin_user.username, "/rules/")
    page.get_by_role("link", name="New rule").click()
    page.wait_for_url("**/rules/new/")

    # A typo: the check as you type shows the error at its position, the name marked.
    page.fill("#id_name", "m_bad_big_payments")
    condition = page.locator("#id_expression")
    condition.fill(TYPO)
    expect(page.locator("#expression-check .bad")).to_contain_text("Position 17")
    expect(page.locator("#expression-check mark")).to_have_text("merchnt_id")
    screenshot(page, "rule-editor-error")

    # Fixed, with a completion taken for the field's name.
    condition.fill("amount > 300 and ")
    condition.press_sequentially("merch")
    expect(page.locator(".completions li").first).to_contain_text("merchant_id")
    condition.press("Tab")
    expect(condition).to_have_value("amount > 300 and merchant_id")
    condition.press_sequentially(' == "m-bad"')
    expect(condition).to_have_value(FIXED)
    expect(page.locator("#expression-check .ok")).to_have_text("The condition is valid.")
    page.select_option("#id_action", "block")
    page.fill("#id_description", "Large payments at a merchant we distrust.")
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url("**/rules/*/")
    expect(page.locator("h1 .badge")).to_have_text("draft")

    # Tested on the last 7 days by the worker: the report reads hits and precision.
    page.fill("#id_days", "7")
    page.get_by_role("button", name="Test version 1").click()
    page.wait_for_url("**/rules/tests/*/")
    expect(page.locator("#test-hits")).to_have_text("4", timeout=90_000)
    expect(page.locator("#test-precision")).to_have_text("0.750")
    expect(page.locator("#sample-table tbody tr")).to_have_count(4)
    screenshot(page, "rule-test-report")
    assert RuleTest.objects.get().status == "done"

    # Published from the report (tested: no confirmation needed).
    page.get_by_role("button", name="Publish version 1").click()
    page.wait_for_url("**/rules/*/")
    expect(page.locator("h1 .badge")).to_have_text("active")
    version = RuleVersion.objects.get()
    assert (version.status, version.published_by) == ("active", admin_user)
    screenshot(page, "rule-page")

    # A partner's score answer: blocked, naming the rule.
    _, secret = partner_token
    body = {
        "transaction_id": "e2e-blocked-1",
        "timestamp": timezone.now().isoformat(),
        "account_id": "acct-r1",
        "amount": "500.00",
        "merchant_id": "m-bad",
    }
    answer = page.request.post("/api/v1/transactions/score", data=body, headers={"Authorization": f"Bearer {secret}"})
    assert answer.status == 201, answer.text()
    scored = answer.json()
    assert scored["decision"] == "block"
    assert [(r["id"], r["name"], r["version"], r["action"]) for r in scored["rules"]] == [
        (version.rule_id, "m_bad_big_payments", 1, "block")
    ]

    # An analyst sees the item the rule queued, the rule's name as its first reason.
    queue = new_page()
    log_in(queue, analyst.username, "/review/")
    row = queue.locator("tr.queue-row", has_text="m-bad")  # the only item queued
    expect(row).to_be_visible()
    expect(row.locator("td.reason")).to_contain_text("m_bad_big_payments")
    screenshot(queue, "rule-queued-item")
