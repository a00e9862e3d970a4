"""A dead worker's chunks and splits are taken over: the beat's sweep queues again claims older than the lease whose
rows no live worker locks, and splits whose advisory lock nobody holds; a live worker's work is left alone. The last
test kills a real worker with SIGKILL and a second one, with the beat, takes its chunks over within the lease."""

import json
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.db import transaction as db
from django.utils import timezone

from detection.jobs import chunks
from detection.jobs.tasks import scoring_job_split_task
from detection.models import ScoringJob, ScoringJobChunk
from tests.detection.jobs.conftest import ROOT, Worker, wait_for
from tests.detection.jobs.jobs_data import MAPPING, csv_upload, job_frame


@pytest.fixture
def queued(monkeypatch) -> list[tuple]:
    """What the sweep queues, instead of the broker (which the upload and the split do not reach either)."""
    monkeypatch.setattr("detection.jobs.services._enqueue_split", lambda job_id: None)
    monkeypatch.setattr("detection.jobs.services.enqueue_chunk", lambda chunk_id, *, phase="": None)
    calls: list[tuple] = []
    monkeypatch.setattr(chunks, "enqueue_chunk", lambda chunk_id, *, phase="": calls.append(("chunk", chunk_id, phase)))
    monkeypatch.setattr(chunks, "_enqueue_split_again", lambda job_id: calls.append(("split", job_id)))
    return calls


def split_job(api, settings, rows: int = 25) -> ScoringJob:
    settings.JOB_CHUNK_ROWS = 10
    response = api.post("/api/v1/jobs", {"file": csv_upload(job_frame(rows)), "mapping": json.dumps(MAPPING)})
    assert response.status_code == 202, response.content
    scoring_job_split_task(response.json()["id"])
    return ScoringJob.objects.get(pk=response.json()["id"])


def claim_long_ago(chunk: ScoringJobChunk, *, seconds: int) -> None:
    assert chunks.scoring_job_chunk_claim(chunk_id=chunk.pk) is not None
    ScoringJobChunk.objects.filter(pk=chunk.pk).update(claimed_at=timezone.now() - timedelta(seconds=seconds))


@pytest.mark.django_db
def test_a_claim_older_than_the_lease_that_nobody_holds_is_put_back_and_queued(
    scorer, settings, queued, django_capture_on_commit_callbacks
):
    chunk = split_job(scorer, settings).chunks.first()
    claim_long_ago(chunk, seconds=settings.JOB_CHUNK_LEASE_SECONDS + 1)

    with django_capture_on_commit_callbacks(execute=True):
        assert chunks.scoring_jobs_requeue_stalled() == {"chunks": 1, "splits": 0}

    chunk.refresh_from_db()
    assert chunk.status == ScoringJobChunk.Status.PENDING
    assert queued == [("chunk", chunk.pk, "")]
    with django_capture_on_commit_callbacks(execute=True):
        assert chunks.scoring_jobs_requeue_stalled() == {"chunks": 0, "splits": 0}  # not twice


@pytest.mark.django_db
def test_a_claim_within_its_lease_is_left_alone(scorer, settings, queued):
    chunk = split_job(scorer, settings).chunks.first()
    claim_long_ago(chunk, seconds=settings.JOB_CHUNK_LEASE_SECONDS - 5)

    assert chunks.scoring_jobs_requeue_stalled() == {"chunks": 0, "splits": 0}
    assert ScoringJobChunk.objects.get(pk=chunk.pk).status == ScoringJobChunk.Status.INGESTING


def hold_row_lock(chunk_id: int, locked: threading.Event, release: threading.Event) -> None:
    """What a live worker does while it works a chunk: its transaction holds the chunk's row."""
    try:
        with db.atomic():
            ScoringJobChunk.objects.select_for_update().get(pk=chunk_id)
            locked.set()
            release.wait(20)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_live_workers_chunk_is_neither_requeued_nor_claimed_however_old_its_claim(scorer, settings, queued):
    chunk = split_job(scorer, settings).chunks.first()
    claim_long_ago(chunk, seconds=settings.JOB_CHUNK_LEASE_SECONDS * 10)
    locked, release = threading.Event(), threading.Event()
    worker = threading.Thread(target=hold_row_lock, args=(chunk.pk, locked, release))
    worker.start()
    try:
        assert locked.wait(10)
        started = time.monotonic()
        assert chunks.scoring_jobs_requeue_stalled() == {"chunks": 0, "splits": 0}
        with pytest.raises(chunks.ChunkBusy):
            chunks.scoring_job_chunk_run(chunk_id=chunk.pk)
        assert time.monotonic() - started < 5  # neither waited for the live worker's transaction
    finally:
        release.set()
        worker.join()
    assert queued == []


@pytest.mark.django_db(transaction=True)
def test_a_split_abandoned_by_a_dead_worker_is_queued_again_and_a_live_one_is_not(scorer, settings, queued):
    job = split_job(scorer, settings)
    started = timezone.now() - timedelta(seconds=settings.JOB_CHUNK_LEASE_SECONDS + 1)
    ScoringJob.objects.filter(pk=job.pk).update(split_at=None, started_at=started)  # as a split that died midway
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:  # a live worker splitting it
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [chunks.SPLIT_LOCK_SPACE, job.pk])
        assert chunks.scoring_jobs_requeue_stalled() == {"chunks": 0, "splits": 0}
    finally:
        other.close()  # the worker dies: PostgreSQL drops its lock as the backend notices, a moment later

    wait_for(lambda: chunks.scoring_jobs_requeue_stalled()["splits"] == 1, timeout=10, every=0.1)
    assert queued == [("split", job.pk)]


class SweepingWorker(Worker):
    """A worker of the conftest's kind whose broker would redeliver a dead worker's task only after an hour, so that
    only the sweep can take its chunks over; with `beat`, it embeds the beat, sweeping every second (lease 3 s)."""

    def __init__(self, queue: str, *, beat: bool, schedule: str):
        super().__init__(queue)
        self.beat, self.schedule = beat, schedule

    def env(self) -> dict:
        return super().env() | {
            "CELERY_VISIBILITY_TIMEOUT": "3600",
            "JOB_CHUNK_LEASE_SECONDS": "3",
            "JOB_SWEEP_EVERY_SECONDS": "1",
            "CELERY_BEAT_SCHEDULE_FILENAME": self.schedule,
        }

    def start(self) -> "SweepingWorker":
        command = [sys.executable, "-m", "celery", "-A", "anomaly_site", "worker", "-Q", self.queue, "-c", "1"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING"]
        command += ["-B"] if self.beat else []
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env(), start_new_session=True)
        return self


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_job_has_its_chunks_taken_over_within_the_lease(scorer, active_model, tmp_path, settings):
    connection.close()
    queue, schedule = settings.CELERY_TASK_DEFAULT_QUEUE, str(tmp_path / "celerybeat")
    first = SweepingWorker(queue, beat=False, schedule=schedule).start()
    second = None
    try:
        response = scorer.post("/api/v1/jobs", {"file": csv_upload(job_frame(3000)), "mapping": json.dumps(MAPPING)})
        job_id = response.json()["id"]
        job_chunks = ScoringJobChunk.objects.filter(job_id=job_id)
        wait_for(lambda: job_chunks.filter(status__in=ScoringJobChunk.CLAIMED).exists(), timeout=90, every=0.005)
        first.kill()
        killed = time.monotonic()
        interrupted = job_chunks.filter(status__in=ScoringJobChunk.CLAIMED)
        interrupted_ids, last_claim = set(interrupted.values_list("pk", flat=True)), timezone.now()
        assert interrupted_ids

        second = SweepingWorker(queue, beat=True, schedule=schedule).start()
        # Each interrupted chunk is claimed again: by the sweep's requeue, since the broker would wait an hour. The
        # bound is the lease (3 s), a sweep (1 s), and the second worker's start-up on a busy machine.
        wait_for(lambda: not job_chunks.filter(pk__in=interrupted_ids, claimed_at__lte=last_claim).exists(), timeout=45)
        taken_over_after = time.monotonic() - killed
        wait_for(lambda: ScoringJob.objects.get(pk=job_id).status in ("done", "failed"), timeout=120)

        job = ScoringJob.objects.get(pk=job_id)
        assert (job.status, job.processed_rows, job.total_rows) == ("done", 3000, 3000)
        assert all(
            c.status == "done" and c.attempts >= 2 for c in ScoringJobChunk.objects.filter(pk__in=interrupted_ids)
        )
        assert taken_over_after < 45, taken_over_after
        print(f"interrupted chunks taken over {taken_over_after:.1f} s after the kill")
    finally:
        first.stop()
        if second is not None:
            second.stop()
