"""Scoring jobs on a REAL Celery worker process, including one killed (SIGKILL) in the middle of a job."""

import json

import pytest

from detection.models import Score, ScoringJob, ScoringJobChunk
from review.models import ReviewItem
from tests.detection.jobs.conftest import wait_for
from tests.detection.jobs.jobs_data import BAD_ROWS, MAPPING, csv_upload, job_frame
from transactions.models import Transaction

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def create_job(api, rows: int) -> int:
    response = api.post("/api/v1/jobs", {"file": csv_upload(job_frame(rows)), "mapping": json.dumps(MAPPING)})
    assert response.status_code == 202, response.content
    return response.json()["id"]


def job_status(job_id: int) -> str:
    return ScoringJob.objects.get(pk=job_id).status


def assert_scored_once(job_id: int, source, valid_rows: int) -> None:
    job = ScoringJob.objects.get(pk=job_id)
    assert job.status == ScoringJob.Status.DONE
    assert (job.processed_rows, job.created_rows, job.existing_rows) == (job.total_rows, valid_rows, 0)
    assert job.error_rows == len(BAD_ROWS)
    assert Transaction.objects.filter(source=source).count() == valid_rows
    assert Score.objects.filter(transaction__source=source).count() == valid_rows
    assert ReviewItem.objects.filter(transaction__source=source).count() == job.flagged_rows


def test_a_worker_scores_an_uploaded_file_end_to_end(scorer, active_model, celery_worker_process):
    celery_worker_process()
    job_id = create_job(scorer, 250)

    wait_for(lambda: job_status(job_id) in ("done", "failed"), timeout=90)

    assert_scored_once(job_id, scorer.token.source, 250 - len(BAD_ROWS))
    body = scorer.get(f"/api/v1/jobs/{job_id}").json()
    assert (body["status"], body["progress"], body["processed_rows"]) == ("done", 1.0, 250)
    assert body["result_url"].endswith(f"/api/v1/jobs/{job_id}/result.csv")


def kill_while_a_chunk_is(status: str, *, scoring: bool, api, start_worker) -> tuple[int, set[int]]:
    """Start a 3,000-row job on one worker, SIGKILL it while a chunk is held in `status`, start another."""
    first = start_worker()
    job_id = create_job(api, 3000)
    chunks = ScoringJobChunk.objects.filter(job_id=job_id)
    wait_for(
        lambda: (
            chunks.filter(status__in=("stored", "done") if not scoring else ("done",)).count() >= 2
            and chunks.filter(status=status).exists()
        ),
        timeout=90,
        every=0.005,
    )
    first.kill()
    interrupted = set(chunks.filter(status=status).values_list("pk", flat=True))
    job = ScoringJob.objects.get(pk=job_id)
    assert (job.status, job.phase) == ("running", "scoring" if scoring else "ingesting")
    assert interrupted
    start_worker()
    wait_for(lambda: job_status(job_id) in ("done", "failed"), timeout=120)
    return job_id, interrupted


def test_a_worker_killed_while_storing_loses_nothing_and_doubles_nothing(scorer, active_model, celery_worker_process):
    job_id, interrupted = kill_while_a_chunk_is(
        "ingesting", scoring=False, api=scorer, start_worker=celery_worker_process
    )

    assert_scored_once(job_id, scorer.token.source, 3000 - len(BAD_ROWS))
    resumed = ScoringJobChunk.objects.filter(pk__in=interrupted)
    assert all(chunk.status == "done" and chunk.attempts >= 3 for chunk in resumed)  # stored twice, scored once


def test_a_worker_killed_while_scoring_loses_nothing_and_doubles_nothing(scorer, active_model, celery_worker_process):
    job_id, interrupted = kill_while_a_chunk_is("scoring", scoring=True, api=scorer, start_worker=celery_worker_process)

    assert_scored_once(job_id, scorer.token.source, 3000 - len(BAD_ROWS))
    resumed = ScoringJobChunk.objects.filter(pk__in=interrupted)
    assert all(chunk.status == "done" and chunk.attempts >= 3 for chunk in resumed)  # stored once, scored twice
