"""Uploads kept apart from the live queue, in a browser with a real worker: the mapping form ticks no extra column,
refuses one that gives the label away (naming it), and a labelled file's upload adds nothing to the live queue; an
unlabelled file's flagged rows wait in the upload's own view, closed there together after a confirmation."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from review.models import ReviewItem
from tests.detection.conftest import active_model, history, trained_model  # noqa: F401 - fixtures
from tests.detection.jobs.conftest import celery_worker_process  # noqa: F401 - fixture
from tests.detection.jobs.jobs_data import job_frame
from tests.e2e.conftest import in_thread, log_in, screenshot
from tests.e2e.seed import flag_new_transaction
from tests.factories import RiskPolicyFactory

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def live_queue_and_a_policy_that_flags_everything() -> None:
    flag_new_transaction(account_id="acct-9001")
    flag_new_transaction(account_id="acct-9002", amount="1200.00")
    RiskPolicyFactory(review_threshold=0.0)


def mapping_page(new_page, user, path: Path):
    page = new_page()
    log_in(page, user.username, "/detection/uploads/")
    page.set_input_files("#id_file", str(path))
    page.get_by_role("button", name="Read its columns").click()
    page.wait_for_url("**/map/")
    return page


def expect_live_queue_of_two(page) -> None:
    page.goto("/review/")
    expect(page.locator("#queue-counts")).to_contain_text("2 open")
    expect(page.locator("#queue-rows tr.queue-row")).to_have_count(2)


@pytest.mark.usefixtures("active_model")
def test_a_labelled_upload_adds_nothing_to_the_live_queue_and_its_form_ticks_no_extra_column(
    new_page,
    analyst,
    celery_worker_process,  # noqa: F811
    tmp_path,
):
    in_thread(live_queue_and_a_policy_that_flags_everything)
    path = tmp_path / "last-year-labelled.csv"
    frame = job_frame(40, bad=False)
    frame["is_fraud"] = [int(n % 8 == 0) for n in range(40)]
    frame["anomaly_type"] = frame["is_fraud"] * 2
    frame["split"] = ["train", "test"] * 20
    frame.to_csv(path, index=False)
    celery_worker_process()

    page = mapping_page(new_page, analyst, path)
    expect(page.locator("#id_label_column")).to_have_value("is_fraud")
    expect(page.locator("input[name=attributes]")).to_have_count(10)  # every column of the file is offered
    expect(page.locator("input[name=attributes]:checked")).to_have_count(0)
    screenshot(page, "upload-mapping-nothing-ticked")

    page.get_by_label("anomaly_type").check()
    page.get_by_role("button", name="Score this file").click()
    expect(page.locator(".attributes .errorlist")).to_contain_text(
        "Column 'anomaly_type' predicts the label 'is_fraud' almost perfectly"
    )
    screenshot(page, "upload-mapping-leak-refused")

    page.get_by_label("anomaly_type").uncheck()
    page.get_by_role("button", name="Score this file").click()
    page.wait_for_url("**/uploads/jobs/*/")
    expect(page.locator("#job-percent")).to_have_text("100.0%", timeout=90_000)
    expect(page.locator("#job-flagged")).to_have_text("40")
    page.locator("#job-review").click()
    expect(page.locator("#upload-counts")).to_contain_text("0 to do")
    expect(page.locator("p.empty")).to_have_text("This upload flagged no row for review.")
    expect_live_queue_of_two(page)
    screenshot(page, "upload-labelled-live-queue-unchanged")
    assert ReviewItem.objects.count() == 2


@pytest.mark.usefixtures("active_model")
def test_an_unlabelled_uploads_flagged_rows_wait_in_its_own_view_and_close_together(
    new_page,
    analyst,
    celery_worker_process,  # noqa: F811
    tmp_path,
):
    in_thread(live_queue_and_a_policy_that_flags_everything)
    path = tmp_path / "march.csv"
    job_frame(30, bad=False).to_csv(path, index=False)
    celery_worker_process()

    page = mapping_page(new_page, analyst, path)
    page.get_by_role("button", name="Score this file").click()
    expect(page.locator("#job-percent")).to_have_text("100.0%", timeout=90_000)
    page.locator("#job-review").click()
    expect(page.locator("#upload-items tbody tr")).to_have_count(30)
    screenshot(page, "upload-review-view")

    page.locator("#upload-close-start").click()
    expect(page.locator("#upload-close-confirm")).to_contain_text("Close 30 items of this upload without a decision?")
    screenshot(page, "upload-review-close-confirm")
    page.get_by_role("button", name="Close 30 items").click()
    expect(page.locator(".messages")).to_contain_text("Closed 30 items of this upload without a decision.")
    expect(page.locator("#upload-counts")).to_contain_text("30 closed")
    expect_live_queue_of_two(page)
    assert ReviewItem.objects.filter(origin="upload", status="closed").count() == 30
