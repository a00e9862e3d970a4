"""The Content-Security-Policy in a real browser: the main pages load, their scripts run (htmx, the live sockets, the
pages' own behaviours) and Chromium's console reports no violation of the policy and no script refused or failing."""

import re

import pytest
from playwright.sync_api import expect

from detection.models import ScoringJob
from tests.detection.performance.seed import seed_performance
from tests.e2e.conftest import in_thread, log_in
from tests.e2e.seed import seed_queue
from tests.factories import default_organisation
from transactions.models import Source

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# What Chromium prints when the policy blocks something, and what htmx prints when it is refused eval.
VIOLATION = re.compile(r"Content Security Policy|Refused to (execute|load|apply|evaluate|connect|frame)|evalDisallowed")


class Console:
    """Every console message and uncaught page error of one page."""

    def __init__(self, page):
        self.messages: list[str] = []
        page.on("console", lambda message: self.messages.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: self.messages.append(f"pageerror: {error}"))

    def violations(self) -> list[str]:
        return [m for m in self.messages if VIOLATION.search(m) or m.startswith("pageerror")]


@pytest.fixture
def admin_page(new_page, admin_user):
    page = new_page()
    console = Console(page)
    log_in(page, admin_user.username, "/review/")
    return page, console


def visit(page, path: str) -> None:
    page.goto(path)
    page.wait_for_load_state("networkidle")


def test_the_review_pages_run_under_the_policy_without_a_violation(admin_page):
    page, console = admin_page
    item = in_thread(seed_queue)[0]

    visit(page, "/review/")
    expect(page.locator("#live-status.on")).to_be_visible()  # review.js and the websocket ran
    page.keyboard.press("?")
    expect(page.locator("#help-dialog")).to_be_visible()
    page.keyboard.press("Escape")
    visit(page, f"/review/transactions/{item.transaction_id}/")

    assert console.violations() == [], console.messages


def test_the_other_main_pages_run_under_the_policy_without_a_violation(admin_page, tmp_path):
    page, console = admin_page
    in_thread(seed_performance)
    job = ScoringJob.objects.create(
        source=Source.objects.create(organisation=default_organisation(), name="uploads", kind=Source.Kind.UPLOAD),
        file_path="jobs/none/upload.csv",
        file_format="csv",
        original_name="march.csv",
        status=ScoringJob.Status.RUNNING,
    )

    visit(page, "/detection/performance/")
    page.locator("#threshold-range").fill("0.5")
    expect(page.locator("#id_review_threshold")).to_have_value("0.5")  # site.js mirrors the slider
    page.select_option("#version-select", "1")
    page.wait_for_url("**/performance/?version=1")  # site.js submits the picker

    visit(page, "/detection/uploads/")
    path = tmp_path / "rows.csv"
    path.write_text("transaction_id,timestamp,user_id,amount\nT1,2026-03-01 10:00:00,a1,12.50\n")
    page.set_input_files("#id_file", str(path))
    page.get_by_role("button", name="Read its columns").click()
    page.wait_for_url("**/map/")
    page.wait_for_load_state("networkidle")

    visit(page, f"/detection/uploads/jobs/{job.pk}/")
    expect(page.locator("#job-live")).to_have_text(re.compile("Live|Polling"))  # job.js ran

    for path in (
        "/detection/backtests/",
        "/alerts/thresholds/",
        "/admin/",
        "/admin/alerts/alertrule/add/",
        "/admin/axes/accessattempt/",
    ):
        visit(page, path)

    assert console.violations() == [], console.messages


def test_swagger_ui_renders_under_the_policy(admin_page):
    page, console = admin_page

    visit(page, "/api/v1/docs/")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Transaction anomaly detection API")
    assert console.violations() == [], console.messages
