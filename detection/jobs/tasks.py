"""Celery tasks of scoring jobs: thin, taking ids, calling detection.jobs.services. acks_late, so a killed worker's task
is delivered again; the services' claims make that second run harmless."""

from celery import shared_task
from django.conf import settings

from detection.jobs import chunks
from detection.jobs import services as jobs
from detection.scoring.registry import NoActiveModel


@shared_task(
    name="detection.job_tasks.scoring_job_split_task",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
)
def scoring_job_split_task(self, job_id: int) -> None:
    """Split the job's file into chunks, holding its split lock, whose release when this worker dies is how the sweep
    knows the split was abandoned."""
    with chunks.scoring_job_split_lock(job_id) as held:
        if held:
            jobs.scoring_job_split(job_id=job_id)
            return
    # Another live worker splits this job: look again later, in case it dies before it is done.
    raise self.retry(countdown=settings.JOB_CHUNK_LEASE_SECONDS + 1, max_retries=None)


@shared_task(name="detection.job_tasks.scoring_jobs_sweep", ignore_result=True)
def scoring_jobs_sweep() -> dict[str, int]:
    """Celery beat's, every JOB_SWEEP_EVERY_SECONDS: queue again the chunks and splits of workers that died."""
    return chunks.scoring_jobs_requeue_stalled()


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
