"""Bulk scoring jobs: a stored upload, read chunk by chunk; every chunk stored, then every chunk scored.

The split (one task) streams the file into per-chunk files and queues each chunk as it is recorded; the chunks'
two phases (store, then score once the whole file is stored) are in detection.jobs.chunks.
"""

import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError
from django.db import transaction as db
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.api_errors import ServiceUnavailable
from detection.jobs import progress as job_progress
from detection.jobs.chunks import (  # noqa: F401 - the chunks' API, re-exported
    ChunkBusy,
    enqueue_chunk,
    media_path,
    scoring_job_chunk_claim,
    scoring_job_chunk_run,
    scoring_job_finish_if_done,
    scoring_job_score_if_stored,
)
from detection.models import ScoringJob, ScoringJobChunk
from detection.staging.services import upload_size_check
from transactions.files import (
    MappingError,
    UnreadableFile,
    check_readable,
    file_columns,
    guess_label_column,
    guess_mapping,
    plan_columns,
    read_mapped_chunks,
)
from transactions.models import Source
from transactions.services import source_get_or_create
from transactions.validation import text_problem

logger = logging.getLogger(__name__)

FORMATS = {".csv": ScoringJob.Format.CSV, ".parquet": ScoringJob.Format.PARQUET, ".pq": ScoringJob.Format.PARQUET}
MAX_ERRORS_PER_CHUNK = 1000
JOBS_DIR = "jobs"
UPLOAD_SOURCE = Source.UPLOADS  # the source of the files people score, on the upload pages and through the jobs API


@dataclass(frozen=True)
class JobInputError(Exception):
    field: str
    reason: str


# ------------------------------------------------------------------ create


def upload_source(*, organisation) -> Source:
    """The organisation's source of the files its people score, on the pages and through the API alike (a
    partner's jobs score into its own)."""
    return source_get_or_create(organisation=organisation, name=UPLOAD_SOURCE, kind=Source.Kind.UPLOAD)


def scoring_job_create(
    *,
    source: Source,
    upload: UploadedFile,
    mapping: dict[str, str] | None = None,
    attributes: list[str] | tuple = (),
    label_column: str | None = None,
    token=None,
    user=None,
) -> ScoringJob:
    """Store the upload under MEDIA_ROOT/jobs/, check that it can be read throughout and the mapping against its
    header, queue the split. Whatever would fail the job later is refused here, before it exists: a file past
    FILE_UPLOAD_MAX_BYTES (UploadTooLarge), not UTF-8, or without a column for a required field (JobInputError)."""
    file_format = _file_format(upload.name)
    upload_size_check(upload.size)
    relative = _store_upload(upload)
    try:
        plan = _plan(media_path(relative), mapping, list(attributes), label_column)
    except JobInputError:
        media_path(relative).unlink(missing_ok=True)
        raise
    with db.atomic():
        job = ScoringJob.objects.create(
            source=source,
            token=token,
            created_by=user,
            file_path=relative,
            file_format=file_format,
            original_name=_original_name(upload.name),
            mapping=plan.mapping,
            attributes=plan.attributes,
            label_column=plan.label_column or "",
        )
        db.on_commit(lambda: _enqueue_split(job.pk))
    return job


def _file_format(name: str) -> str:
    suffix = Path(name or "").suffix.lower()
    if suffix not in FORMATS:
        raise JobInputError("file", "Upload a .csv or .parquet file.")
    return FORMATS[suffix]


def _store_upload(upload: UploadedFile) -> str:
    suffix = Path(upload.name).suffix.lower()
    relative = f"{JOBS_DIR}/{uuid.uuid4().hex}/upload{suffix}"
    target = media_path(relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        for piece in upload.chunks():
            out.write(piece)
    return relative


def _original_name(name: str) -> str:
    """The file's name as sent, kept for people to recognise: without characters PostgreSQL cannot store."""
    name = Path(name).name[:255]
    return name if text_problem(name) is None else "".join(c for c in name if text_problem(c) is None)


def _plan(path: Path, mapping, attributes, label_column):
    try:
        check_readable(path)
    except UnreadableFile as exc:
        raise JobInputError("file", str(exc))
    try:
        columns = file_columns(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure means the file is not what it claims
        raise JobInputError("file", f"The file could not be read as CSV or Parquet ({type(exc).__name__}).")
    if not mapping:
        mapping = guess_mapping(columns)
        label_column = label_column or guess_label_column(columns)
    try:
        return plan_columns(columns, mapping, attributes, label_column, ())
    except MappingError as exc:
        raise JobInputError("mapping", str(exc))


# Queueing a split tries the broker twice, 0.1 s apart (Celery's default policy retries for longer).
ENQUEUE_RETRY_POLICY = {"max_retries": 1, "interval_start": 0.1, "interval_step": 0.1, "interval_max": 0.1}


def _enqueue_split(job_id: int) -> None:
    """Queue the split. A broker that does not answer fails the job and its file (so it never waits, pending, for a
    split nobody queued) and the upload with a 503 and Retry-After, so the caller sends it again."""
    from detection.jobs.tasks import scoring_job_split_task

    try:
        scoring_job_split_task.apply_async(args=[job_id], queue=settings.JOB_QUEUE, retry_policy=ENQUEUE_RETRY_POLICY)
    except Exception as exc:
        logger.exception("could not queue a job's split", extra={"job": job_id})
        _job_fail(job_id, "The job queue did not answer, so the file was not scored: upload it again.")
        for relative in ScoringJob.objects.filter(pk=job_id).values_list("file_path", flat=True):
            media_path(relative).unlink(missing_ok=True)
        raise ServiceUnavailable("The job queue does not answer; upload the file again in a moment.") from exc


# ------------------------------------------------------------------ split


def scoring_job_split(*, job_id: int) -> ScoringJob | None:
    """Read the upload chunk by chunk into per-chunk files; each chunk is recorded and queued as it is written,
    so workers store chunks while the file is still being read.

    Safe to repeat: chunks already recorded are kept (and queued again if not stored yet).
    """
    claimable = Q(status=ScoringJob.Status.PENDING) | Q(status=ScoringJob.Status.RUNNING, split_at=None)
    claimed = ScoringJob.objects.filter(claimable, pk=job_id)
    if not claimed.update(status=ScoringJob.Status.RUNNING, started_at=Coalesce("started_at", timezone.now())):
        return None
    job = ScoringJob.objects.get(pk=job_id)
    job_progress.publish(job_id)
    try:
        total = _split_chunks(job)
    except Exception as exc:
        logger.exception("scoring job split failed", extra={"job": job_id})
        _job_fail(job_id, f"The file could not be read: {type(exc).__name__}: {exc}"[:2000])
        return None
    ScoringJob.objects.filter(pk=job_id).update(
        total_rows=total, chunk_count=job.chunks.count(), split_at=timezone.now()
    )
    scoring_job_score_if_stored(job_id=job_id)
    job_progress.publish(job_id)
    return ScoringJob.objects.get(pk=job_id)


def _split_chunks(job: ScoringJob) -> int:
    total = 0
    known = set(job.chunks.values_list("index", flat=True))
    chunks = read_mapped_chunks(
        media_path(job.file_path),
        mapping=job.mapping,
        attributes=job.attributes,
        label_column=job.label_column or None,
        chunk_rows=settings.JOB_CHUNK_ROWS,
    )
    for index, mapped in enumerate(chunks):
        total += mapped.rows
        if index not in known:
            _chunk_record(_chunk_write(job, index, mapped))
    unstored = job.chunks.filter(index__in=known, status__in=(ScoringJobChunk.Status.PENDING,))
    for chunk_id in unstored.values_list("pk", flat=True):
        enqueue_chunk(chunk_id)
    return total


def _chunk_write(job: ScoringJob, index: int, mapped) -> ScoringJobChunk:
    relative = f"{Path(job.file_path).parent}/chunk-{index:05d}.parquet"
    mapped.frame.to_parquet(media_path(relative), index=True)
    starts_at = mapped.frame["timestamp"].min() if len(mapped.frame) else None
    return ScoringJobChunk(
        job=job,
        index=index,
        first_row=mapped.first_row,
        row_count=mapped.rows,
        starts_at=None if pd.isna(starts_at) else starts_at,
        file_path=relative,
        errors=[_row_error(e) for e in mapped.errors[:MAX_ERRORS_PER_CHUNK]],
        error_rows=len({e.row for e in mapped.errors}),
    )


def _chunk_record(chunk: ScoringJobChunk) -> None:
    """Record and queue a chunk; a split repeated at the same time records each index once (the constraint)."""
    try:
        with db.atomic():
            chunk.save()
            db.on_commit(lambda: enqueue_chunk(chunk.pk))
    except IntegrityError:
        logger.info("chunk already recorded", extra={"job": chunk.job_id, "index": chunk.index})


def _row_error(error) -> dict:
    return {"row": int(error.row), "field": error.field, "reason": error.reason}


# ------------------------------------------------------------------ failures


def _job_fail(job_id: int, reason: str) -> None:
    ScoringJob.objects.filter(pk=job_id).exclude(status=ScoringJob.Status.DONE).update(
        status=ScoringJob.Status.FAILED, error=reason, finished_at=timezone.now()
    )
    job_progress.publish(job_id)


def scoring_job_chunk_fail(*, chunk_id: int, reason: str) -> None:
    """A chunk that failed for good (not a killed worker: an error every retry repeats) fails its job."""
    job_id = ScoringJobChunk.objects.filter(pk=chunk_id).values_list("job_id", flat=True).first()
    if job_id is not None:
        _job_fail(job_id, reason[:2000])
