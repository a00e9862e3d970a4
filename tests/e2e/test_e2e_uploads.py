"""Uploading a file in a browser: columns guessed, job started, progress followed live to 100% by a real worker."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from detection.models import ScoringJob
from tests.detection.backtests.backtest_data import labelled_frame
from tests.detection.conftest import active_model, history, trained_model  # noqa: F401 - fixtures
from tests.detection.jobs.conftest import celery_worker_process  # noqa: F401 - fixture
from tests.detection.jobs.jobs_data import job_frame
from tests.e2e.conftest import log_in, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def columns_read(new_page, user, path: Path, start: str):
    """A new page of the user's that sent the file from `start` (the uploads or backtests page) and asked for its
    columns to be read."""
    page = new_page()
    log_in(page, user.username, start)
    page.set_input_files("#id_file", str(path))
    page.get_by_role("button", name="Read its columns").click()
    return page


@pytest.mark.usefixtures("active_model")
def test_upload_is_mapped_scored_and_followed_to_100_percent(new_page, analyst, celery_worker_process, tmp_path):  # noqa: F811
    path = tmp_path / "march-transactions.csv"
    job_frame(300).to_csv(path, index=False)
    celery_worker_process()

    page = columns_read(new_page, analyst, path, "/detection/uploads/")
    page.wait_for_url("**/map/")
    expect(page.locator("#id_map_account_id")).to_have_value("user_id")
    expect(page.locator("#id_map_channel")).to_have_value("is_online")
    screenshot(page, "upload-mapping")
    page.get_by_role("button", name="Score this file").click()

    page.wait_for_url("**/uploads/jobs/*/")
    expect(page.locator("#job-live")).to_have_text("Live")
    expect(page.locator("#job-percent")).to_have_text("100.0%", timeout=90_000)
    expect(page.locator("#job-scored")).to_have_text("298")
    expect(page.locator("#job-rejected")).to_have_text("2")
    screenshot(page, "upload-job-done")
    job = ScoringJob.objects.get()
    assert (job.status, job.processed_rows, job.error_rows) == ("done", 300, 2)


@pytest.mark.usefixtures("active_model")
def test_scored_file_downloads_from_the_finished_job(new_page, analyst, celery_worker_process, tmp_path):  # noqa: F811
    path = tmp_path / "small.csv"
    job_frame(20, bad=False).to_csv(path, index=False)
    celery_worker_process()
    page = columns_read(new_page, analyst, path, "/detection/uploads/")
    page.get_by_role("button", name="Score this file").click()
    expect(page.locator("#job-download")).to_be_visible(timeout=90_000)

    with page.expect_download() as download_info:
        page.locator("#job-download").click()

    lines = Path(download_info.value.path()).read_text().splitlines()
    assert lines[0].startswith("row,transaction_id,score")
    assert len(lines) == 21


def test_backtest_report_appears_when_the_worker_finishes(new_page, analyst, celery_worker_process, tmp_path):  # noqa: F811
    path = tmp_path / "labelled.csv"
    labelled_frame().to_csv(path, index=False)
    celery_worker_process()
    page = columns_read(new_page, analyst, path, "/detection/backtests/")
    page.wait_for_url("**/setup/")
    expect(page.locator("#id_label_column")).to_have_value("tx_fraud")
    page.fill("#id_delay_days", "1")
    page.fill("#id_test_days", "3")
    screenshot(page, "backtest-setup")

    page.get_by_role("button", name="Run the backtest").click()

    expect(page.locator("#metrics-table")).to_be_visible(timeout=120_000)
    expect(page.locator("#metrics-table tbody tr")).not_to_have_count(0)
    screenshot(page, "backtest-report")
