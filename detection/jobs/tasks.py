"""Celery tasks of scoring jobs: thin, taking ids, calling detection.jobs.services. acks_late, so a killed worker's task
is delivered again; the services' claims make that second run harmless."""

from celery import shared_task
from django.conf import settings

from detection.jobs import services as jobs
from detection.scoring.registry import NoActiveModel


@shared_task(name="detection.job_tasks.scoring_job_split_task", acks_late=True, reject_on_worker_lost=True)
def scoring_job_split_task(job_id: int) -> None:
    jobs.scoring_job_split(job_id=job_id)


@shared_task(
    name="detection.job_tasks.scoring_job_chunk_task",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
)
def scoring_job_chunk_task(self, chunk_id: int, phase: str = "") -> str:
    """Store a chunk (and score it if the job is scoring by then); with phase "score", only score it."""
    try:
        return jobs.scoring_job_chunk_run(chunk_id=chunk_id, phase=phase)
    except jobs.ChunkBusy:
        # Another worker holds the lease: look again once it may have expired (a dead worker's claim does).
        raise self.retry(countdown=settings.JOB_CHUNK_LEASE_SECONDS + 1, max_retries=None)
    except NoActiveModel as missing:  # none active, or the active one unreadable: the message says which
        jobs.scoring_job_chunk_fail(chunk_id=chunk_id, reason=str(missing))
        raise
    except Exception as exc:
        if self.request.retries < 3:
            raise self.retry(exc=exc, countdown=5 * (self.request.retries + 1))
        jobs.scoring_job_chunk_fail(chunk_id=chunk_id, reason=f"{type(exc).__name__}: {exc}")
        raise
