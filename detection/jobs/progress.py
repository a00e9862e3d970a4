"""A scoring job's progress, as a dict for the API and as a Channels message to the group `job_<id>`.

The upload page joins `job_<id>` and receives {"type": "job.progress", "job": {...}} when the job starts, after each
chunk is stored and after each is scored, and when the job moves from its ingesting phase to scoring and to done.
"""

import logging

from core.channel_send import group_send
from detection.models import ScoringJob

logger = logging.getLogger(__name__)


def group_name(job_id: int) -> str:
    return f"job_{job_id}"


def job_summary(job: ScoringJob) -> dict:
    return {
        "id": job.pk,
        "status": job.status,
        "phase": job.phase,
        "progress": job.progress,
        "total_rows": job.total_rows,
        "stored_rows": job.stored_rows,
        "processed_rows": job.processed_rows,
        "created_rows": job.created_rows,
        "existing_rows": job.existing_rows,
        "error_rows": job.error_rows,
        "flagged_rows": job.flagged_rows,
        "chunk_count": job.chunk_count,
        "error": job.error,
    }


def publish(job_id: int) -> None:
    """Tell the job's page where it stands; a broadcast that fails is logged, never fails the job."""
    job = ScoringJob.objects.filter(pk=job_id).first()
    if job is None:
        return
    try:
        group_send(group_name(job_id), {"type": "job.progress", "job": job_summary(job)})
    except Exception:  # noqa: BLE001 - progress is a courtesy; the database holds the truth
        logger.warning("job progress broadcast failed", extra={"job": job_id}, exc_info=True)
