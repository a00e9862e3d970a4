"""Issue #24's prototype pages in a browser: trying a transaction (gauge and reasons), an upload's analysis (score
distribution and flags by category, scored by a real worker), and activating a version through its comparison."""

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from detection.models import ModelVersion, RiskPolicy, Score
from detection.policy.selectors import risk_policy_invalidate
from detection.training.services import model_version_train
from tests.detection.conftest import START, active_model, history, trained_model  # noqa: F401 - fixtures
from tests.detection.jobs.analysis_data import analysis_frame
from tests.detection.jobs.conftest import celery_worker_process  # noqa: F401 - fixture
from tests.detection.versions.conftest import label
from tests.e2e.conftest import log_in, screenshot
from transactions.models import Transaction

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def policy(active_model):  # noqa: F811
    risk_policy_invalidate()
    policy = RiskPolicy.objects.create(organisation=active_model.organisation, review_threshold=0.9, comment="e2e")
    yield policy
    risk_policy_invalidate()


def test_trying_a_transaction_shows_its_gauge_and_reasons(new_page, analyst, policy):
    before = (Transaction.objects.count(), Score.objects.count())
    page = new_page()
    log_in(page, analyst.username, "/detection/try/")
    expect(page.get_by_role("link", name="Try")).to_be_visible()

    page.fill("#id_account_id", "acct-01")
    expect(page.locator("#account-options option")).to_have_count(10)  # narrowed as one types
    page.fill("#id_account_id", "acct-003")
    page.fill("#id_amount", "4800")
    page.select_option("#id_channel", "online")
    page.fill("#id_merchant_id", "m-travelnow")
    page.fill("#id_merchant_category", "travel")
    page.fill("#id_timestamp", (START + timedelta(days=10, hours=3)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_country", "BR")
    page.get_by_role("button", name="Score it").click()

    expect(page.locator("#try-result svg.gauge")).to_be_visible()
    expect(page.locator("#try-result .reasons li").first).to_be_visible()
    assert page.locator("#try-result .reasons li").count() >= 1
    expect(page.locator("#try-result table.components tbody tr")).to_have_count(4)  # forest, AE, tail, ensemble
    expect(page.locator("#try-result [data-decision]")).to_be_visible()
    assert page.url.endswith("/detection/try/")  # swapped in place by htmx
    screenshot(page, "try-transaction")
    assert (Transaction.objects.count(), Score.objects.count()) == before


def test_an_uploads_result_page_draws_its_score_distribution_and_flags_by_category(
    new_page,
    analyst,
    policy,
    celery_worker_process,  # noqa: F811
    tmp_path,
):
    path = tmp_path / "march.csv"
    frame = analysis_frame().rename(columns={"user_id": "account_id", "merchant": "merchant_id"})
    frame.rename(columns={"category": "merchant_category"}).to_csv(path, index=False)
    celery_worker_process()
    page = new_page()
    log_in(page, analyst.username, "/detection/uploads/")
    page.set_input_files("#id_file", str(path))
    page.get_by_role("button", name="Read its columns").click()
    page.wait_for_url("**/map/")
    page.get_by_role("button", name="Score this file").click()
    expect(page.locator("#job-analysis")).to_be_visible(timeout=90_000)

    page.locator("#job-analysis").click()

    page.wait_for_url("**/analysis/")
    expect(page.locator("#histogram-card svg.chart")).to_be_visible()
    assert page.locator("#histogram-card rect").count() > 10
    expect(page.locator("#category-card svg.chart")).to_be_visible()
    assert page.locator("#category-card rect").count() == 4  # grocery, fuel, restaurants, travel
    expect(page.locator("#analysis-rows-count")).to_have_text("120")
    screenshot(page, "upload-analysis")

    page.select_option("#id_flagged", "yes")
    page.select_option("#id_channel", "online")
    expect(page.locator("#analysis-matching")).to_contain_text("6 rows match")
    assert "flagged=yes" in page.url
    page.locator("#rows-card").screenshot(path=str(Path("test-artifacts/screenshots/upload-analysis-rows.png")))


def test_activating_a_version_in_admin_shows_the_comparison_before_it_asks_to_confirm(
    new_page,
    admin_user,
    active_model,  # noqa: F811
    policy,
):
    candidate = model_version_train(organisation=active_model.organisation, until=START + timedelta(days=7), seed=5)
    stored = list(Transaction.objects.order_by("-amount"))
    label(stored[:10], 1)  # the largest amounts fraud, 30 others legitimate: enough labels for the metrics
    label(stored[100:130], 0)
    page = new_page()
    log_in(page, admin_user.username, "/admin/detection/modelversion/")

    page.locator(f"input[name=_selected_action][value='{candidate.pk}']").check()
    page.select_option("select[name=action]", "activate")
    page.get_by_role("button", name="Go").click()

    page.wait_for_url(f"**/detection/versions/{candidate.pk}/compare/")
    expect(page.locator("h1")).to_contain_text("v8 beside the active v7")
    expect(page.locator("#metrics-card")).to_be_visible()
    expect(page.locator("[data-metric=roc_auc]")).to_have_count(2)
    expect(page.locator("#roc-card svg.chart")).to_be_visible()
    expect(page.locator("#pr-card polyline.series")).to_have_count(2)
    expect(page.locator("#flags-card svg.chart")).to_be_visible()
    expect(page.locator("#disagreements-card")).to_be_visible()
    expect(page.locator("#confirm-activate")).to_be_visible()
    assert ModelVersion.objects.get(pk=candidate.pk).status == "ready"  # shown, not yet activated
    screenshot(page, "version-compare")

    page.locator("#confirm-activate").click()

    page.wait_for_url("**/detection/performance/")
    expect(page.locator(".messages")).to_contain_text("v8 is now the active version")
    assert dict(ModelVersion.objects.values_list("version", "status")) == {7: "retired", 8: "active"}
