"""Where a job's flagged rows go: a person's upload keeps them for its own view (never the live queue), rows that
arrive labelled are never queued, and a partner's job over the API is live traffic."""

import pytest
from django.utils import timezone

from detection.jobs import services as jobs
from detection.scoring.services import score_transactions
from review.models import ReviewItem
from review.selectors import review_queue
from tests.detection.jobs.jobs_data import MAPPING, csv_upload, job_frame
from tests.detection.jobs.test_jobs import run_job, upload
from tests.factories import RiskPolicyFactory, TransactionFactory, default_organisation


@pytest.fixture
def everything_flagged(db):
    return RiskPolicyFactory(review_threshold=0.0)


def upload_job(analyst, frame, **fields):
    """A job from the upload pages: the organisation's uploads source, a person's file."""
    source = jobs.upload_source(organisation=default_organisation())
    job = jobs.scoring_job_create(source=source, upload=csv_upload(frame), mapping=MAPPING, user=analyst, **fields)
    return run_job(job.pk)


def labelled_frame(rows: int):
    return job_frame(rows, bad=False).assign(is_fraud=[int(n % 4 == 0) for n in range(rows)])


@pytest.mark.usefixtures("active_model", "everything_flagged")
def test_an_uploads_flagged_rows_are_kept_for_its_own_view(analyst):
    job = upload_job(analyst, job_frame(12, bad=False))

    items = ReviewItem.objects.all()
    assert job.flagged_rows == 12
    assert {(item.origin, item.job_id) for item in items} == {("upload", job.pk)}
    assert items.count() == 12


@pytest.mark.usefixtures("active_model", "everything_flagged")
def test_an_upload_adds_nothing_to_the_live_queue(analyst):
    upload_job(analyst, job_frame(12, bad=False))

    assert not review_queue(organisation_id=default_organisation().pk, user=analyst, filters={}).exists()


@pytest.mark.usefixtures("active_model", "everything_flagged")
def test_rows_of_an_upload_that_arrive_labelled_are_never_queued(analyst):
    job = upload_job(analyst, labelled_frame(12), label_column="is_fraud")

    assert job.flagged_rows == 12
    assert not ReviewItem.objects.exists()


@pytest.mark.usefixtures("active_model", "everything_flagged")
def test_a_partners_job_over_the_api_is_live_traffic(scorer):
    job_id = upload(scorer, csv_upload(job_frame(12, bad=False))).json()["id"]
    run_job(job_id)

    assert {(item.origin, item.job_id) for item in ReviewItem.objects.all()} == {("live", None)}


@pytest.mark.usefixtures("active_model", "everything_flagged")
def test_a_partners_labelled_rows_are_never_queued_either(scorer):
    job_id = upload(scorer, csv_upload(labelled_frame(12)), label_column="is_fraud").json()["id"]
    run_job(job_id)

    assert not ReviewItem.objects.exists()


@pytest.mark.usefixtures("active_model", "everything_flagged")
def test_a_transaction_scored_alone_that_arrived_labelled_is_never_queued():
    labelled = TransactionFactory(label=1, label_source="import", labelled_at=timezone.now())
    unlabelled = TransactionFactory()

    score_transactions(transactions=[labelled, unlabelled])

    assert list(ReviewItem.objects.values_list("transaction_id", "origin")) == [(unlabelled.pk, "live")]
