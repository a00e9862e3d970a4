"""Bulk scoring jobs: a stored upload, split into chunks of rows, each chunk scored by one Celery task.

Idempotence, so a killed worker loses nothing and scores nothing twice:
- a chunk is claimed with a conditional update (pending, or running with an expired lease → running);
- its rows are stored with INSERT … ON CONFLICT DO NOTHING (COPY through a staging table), its scores only for
  transactions the active version has not scored, and the chunk's counts and its `done` status commit in the
  same database transaction as its rows: a chunk is either wholly done or not done at all.
"""

import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError
from django.db import transaction as db
from django.db.models import F, Q
from django.utils import timezone

from anomaly_site import metrics
from detection import job_progress
from detection.models import Score, ScoringJob, ScoringJobChunk
from detection.services import score_transactions
from transactions.files import (
    MappingError,
    file_columns,
    guess_label_column,
    guess_mapping,
    plan_columns,
    read_mapped_chunks,
)
from transactions.models import Source, Transaction
from transactions.services import transactions_store_frame

logger = logging.getLogger(__name__)

FORMATS = {".csv": ScoringJob.Format.CSV, ".parquet": ScoringJob.Format.PARQUET, ".pq": ScoringJob.Format.PARQUET}
MAX_ERRORS_PER_CHUNK = 1000
JOBS_DIR = "jobs"


@dataclass(frozen=True)
class JobInputError(Exception):
    field: str
    reason: str


def media_path(relative: str) -> Path:
    return Path(settings.MEDIA_ROOT) / relative


# ------------------------------------------------------------------ create


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
    """Store the upload under MEDIA_ROOT/jobs/, check the mapping against its header, queue the split."""
    file_format = _file_format(upload.name)
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
            original_name=Path(upload.name).name[:255],
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


def _plan(path: Path, mapping, attributes, label_column):
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


def _enqueue_split(job_id: int) -> None:
    from detection.job_tasks import scoring_job_split_task

    scoring_job_split_task.apply_async(args=[job_id], queue=settings.JOB_QUEUE)


def _enqueue_chunk(chunk_id: int) -> None:
    from detection.job_tasks import scoring_job_chunk_task

    scoring_job_chunk_task.apply_async(args=[chunk_id], queue=settings.JOB_QUEUE)


# ------------------------------------------------------------------ split


def scoring_job_split(*, job_id: int) -> ScoringJob | None:
    """Read the upload chunk by chunk into per-chunk files; each chunk is recorded and queued as it is written.

    Safe to repeat: chunks already recorded are kept (and queued again only if not done).
    """
    claimed = ScoringJob.objects.filter(pk=job_id, status__in=(ScoringJob.Status.PENDING, ScoringJob.Status.SPLITTING))
    if not claimed.update(status=ScoringJob.Status.SPLITTING, started_at=timezone.now()):
        return None
    job = ScoringJob.objects.get(pk=job_id)
    try:
        total = _split_chunks(job)
    except Exception as exc:
        logger.exception("scoring job split failed", extra={"job": job_id})
        _job_fail(job_id, f"The file could not be read: {type(exc).__name__}: {exc}"[:2000])
        return None
    count = job.chunks.count()
    ScoringJob.objects.filter(pk=job_id).update(status=ScoringJob.Status.RUNNING, total_rows=total, chunk_count=count)
    scoring_job_finish_if_done(job_id=job_id)
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
        if index in known:
            continue
        relative = f"{Path(job.file_path).parent}/chunk-{index:05d}.parquet"
        mapped.frame.to_parquet(media_path(relative), index=True)
        errors = [_row_error(e) for e in mapped.errors[:MAX_ERRORS_PER_CHUNK]]
        chunk = ScoringJobChunk(
            job=job,
            index=index,
            first_row=mapped.first_row,
            row_count=mapped.rows,
            file_path=relative,
            errors=errors,
            error_rows=len({e.row for e in mapped.errors}),
        )
        _chunk_record(chunk)
    for chunk_id in (
        job.chunks.filter(index__in=known).exclude(status=ScoringJobChunk.Status.DONE).values_list("pk", flat=True)
    ):
        _enqueue_chunk(chunk_id)
    return total


def _chunk_record(chunk: ScoringJobChunk) -> None:
    """Record and queue a chunk; a split repeated at the same time records each index once (the constraint)."""
    try:
        with db.atomic():
            chunk.save()
            db.on_commit(lambda: _enqueue_chunk(chunk.pk))
    except IntegrityError:
        logger.info("chunk already recorded", extra={"job": chunk.job_id, "index": chunk.index})


def _row_error(error) -> dict:
    return {"row": int(error.row), "field": error.field, "reason": error.reason}


# ------------------------------------------------------------------ chunks


class ChunkBusy(Exception):
    """Another worker holds this chunk's lease; try again once it may have expired."""


def scoring_job_chunk_claim(*, chunk_id: int) -> datetime | None:
    """Take a pending chunk, or one whose holder's lease ran out; returns the claim's time, None if not taken."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.JOB_CHUNK_LEASE_SECONDS)
    running = ScoringJobChunk.Status.RUNNING
    claimable = Q(status=ScoringJobChunk.Status.PENDING) | Q(status=running, claimed_at__lt=stale)
    updated = (
        ScoringJobChunk.objects.filter(claimable, pk=chunk_id)
        .exclude(job__status=ScoringJob.Status.FAILED)
        .update(status=running, claimed_at=now, attempts=F("attempts") + 1)
    )
    return now if updated == 1 else None


def scoring_job_chunk_run(*, chunk_id: int) -> str:
    """Claim and score one chunk: 'done', 'skipped' (done, or taken over), or ChunkBusy (held by a live worker)."""
    claimed_at = scoring_job_chunk_claim(chunk_id=chunk_id)
    if claimed_at is None:
        status = ScoringJobChunk.objects.filter(pk=chunk_id).values_list("status", flat=True).first()
        if status == ScoringJobChunk.Status.RUNNING:
            raise ChunkBusy(chunk_id)
        return "skipped"
    chunk = ScoringJobChunk.objects.select_related("job", "job__source").get(pk=chunk_id)
    started = time.perf_counter()
    try:
        outcome = _score_chunk(chunk, claimed_at)
    except Exception:
        # The chunk's work rolled back; give the claim up so a retry need not wait for the lease.
        ScoringJobChunk.objects.filter(
            pk=chunk_id, status=ScoringJobChunk.Status.RUNNING, claimed_at=claimed_at
        ).update(status=ScoringJobChunk.Status.PENDING)
        raise
    if outcome is None:
        return "skipped"
    version, scored, flagged = outcome
    metrics.counts_recorded(
        model_version=version, scored=scored, flagged=flagged, kind="job", seconds=time.perf_counter() - started
    )
    scoring_job_finish_if_done(job_id=chunk.job_id)
    job_progress.publish(chunk.job_id)
    return "done"


@db.atomic
def _score_chunk(chunk: ScoringJobChunk, claimed_at: datetime) -> tuple[int, int, int] | None:
    """Rows, scores, counts and the chunk's `done` commit together, or none of them does.

    The first statement marks the chunk done only if this claim still holds, and locks its row until commit:
    a worker that takes over an expired lease waits here, then finds the chunk done (or, if this worker died,
    rolled back and claimable). Returns None when the claim was lost.
    """
    mine = ScoringJobChunk.objects.filter(pk=chunk.pk, status=ScoringJobChunk.Status.RUNNING, claimed_at=claimed_at)
    if not mine.update(status=ScoringJobChunk.Status.DONE, finished_at=timezone.now()):
        return None
    job = chunk.job
    frame = pd.read_parquet(media_path(chunk.file_path))
    attribute_names = [c.removeprefix("attr_") for c in frame.columns if c.startswith("attr_")]
    created = transactions_store_frame(source=job.source, frame=frame, attributes=attribute_names)
    ids = frame["transaction_id"].tolist()
    transactions = list(Transaction.objects.filter(source=job.source, transaction_id__in=ids))
    scores = score_transactions(transactions=transactions) if transactions else []
    flagged = sum(1 for s in scores if s.is_anomaly)
    version = scores[0].model_version.version if scores else 0
    ScoringJobChunk.objects.filter(pk=chunk.pk).update(
        created_rows=created, existing_rows=len(frame) - created, flagged_rows=flagged
    )
    ScoringJob.objects.filter(pk=job.pk).update(
        processed_rows=F("processed_rows") + chunk.row_count,
        created_rows=F("created_rows") + created,
        existing_rows=F("existing_rows") + len(frame) - created,
        error_rows=F("error_rows") + chunk.error_rows,
        flagged_rows=F("flagged_rows") + flagged,
    )
    return version, len(scores), flagged


def scoring_job_finish_if_done(*, job_id: int) -> bool:
    """Mark a running job done once every chunk is; run after each chunk commits (the last one wins)."""
    if ScoringJobChunk.objects.filter(job_id=job_id).exclude(status=ScoringJobChunk.Status.DONE).exists():
        return False
    return bool(
        ScoringJob.objects.filter(pk=job_id, status=ScoringJob.Status.RUNNING).update(
            status=ScoringJob.Status.DONE, finished_at=timezone.now()
        )
    )


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


# ------------------------------------------------------------------ reads


def scoring_job_errors(job: ScoringJob, *, limit: int = 100) -> list[dict]:
    errors: list[dict] = []
    for chunk_errors in job.chunks.exclude(errors=[]).order_by("index").values_list("errors", flat=True):
        errors.extend(chunk_errors[: limit - len(errors)])
        if len(errors) >= limit:
            break
    return errors


RESULT_COLUMNS = ("row", "transaction_id", "score", "risk_level", "is_anomaly", "model_version", "reasons")


def scoring_job_result_rows(job: ScoringJob) -> Iterator[tuple]:
    """Each scored row of the file, in file order, with its transaction's latest score."""
    for chunk in job.chunks.filter(status=ScoringJobChunk.Status.DONE).order_by("index"):
        frame = pd.read_parquet(media_path(chunk.file_path), columns=["transaction_id"])
        scores = _latest_scores_by_id(job.source_id, frame["transaction_id"].tolist())
        for row, transaction_id in zip(frame.index.tolist(), frame["transaction_id"].tolist(), strict=True):
            score = scores.get(transaction_id)
            if score is not None:
                yield (row, transaction_id, *score)


def _latest_scores_by_id(source_id: int, ids: list[str]) -> dict[str, tuple]:
    rows = (
        Score.objects.filter(transaction__source_id=source_id, transaction__transaction_id__in=ids)
        .order_by("transaction_id", "-created_at", "-id")
        .distinct("transaction_id")
        .values_list(
            "transaction__transaction_id", "score", "risk_level", "is_anomaly", "model_version__version", "reasons"
        )
    )
    return {r[0]: (round(r[1], 6), r[2], r[3], r[4], "; ".join(r[5])) for r in rows}
