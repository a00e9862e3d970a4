"""The two phases of a scoring job's chunks: store its rows, then, once every chunk of the job is stored, score them.

Scoring waits for the whole file to be stored so that a transaction's history features (its account's and its
merchant's earlier rows, read from the database) never depend on the order in which workers took the chunks.

Idempotence, so a killed worker loses nothing and does nothing twice:
- a chunk is claimed for a phase with a conditional update (waiting, or claimed with an expired lease → claimed);
- the phase's work, the chunk's next status and the job's counts commit in one database transaction, whose first
  statement re-checks the claim: a chunk is either wholly stored (scored) or not at all;
- that statement also locks the chunk's row until the work commits, so a live worker's claim is its row lock, which
  PostgreSQL drops the moment the worker's connection dies. A claim older than JOB_CHUNK_LEASE_SECONDS whose row
  nobody locks is a dead worker's: `scoring_jobs_requeue_stalled` (the beat, every JOB_SWEEP_EVERY_SECONDS) puts the
  chunk back and queues it, and a claim never waits on a row another worker holds;
- rows are stored with ON CONFLICT DO NOTHING, and a transaction the active version has scored keeps its score;
- the job moves from ingesting to scoring with one conditional UPDATE, so exactly one caller queues the scoring.
"""

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
from django.conf import settings
from django.db import connection
from django.db import transaction as db
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from core import metrics
from detection.jobs import progress as job_progress
from detection.models import ScoringJob, ScoringJobChunk
from detection.scoring.services import StoredRows, score_stored
from transactions.models import Source
from transactions.services import transactions_store_frame

logger = logging.getLogger(__name__)

Chunk = ScoringJobChunk.Status


class ChunkBusy(Exception):
    """Another worker holds this chunk's lease; try again once it may have expired."""


@dataclass(frozen=True)
class Phase:
    waiting: str  # the status a chunk has when this phase may take it
    claimed: str  # while a worker holds it
    finished: str  # once its work committed


INGEST = Phase(waiting=Chunk.PENDING, claimed=Chunk.INGESTING, finished=Chunk.STORED)
SCORE = Phase(waiting=Chunk.STORED, claimed=Chunk.SCORING, finished=Chunk.DONE)


def media_path(relative: str) -> Path:
    """A job's file (its upload, a chunk's rows) under MEDIA_ROOT."""
    return Path(settings.MEDIA_ROOT) / relative


def enqueue_chunk(chunk_id: int, *, phase: str = "") -> None:
    """Queue a chunk's task: "score" for a stored chunk of a scoring job, "" to store it (and score it if it may)."""
    from detection.jobs.tasks import scoring_job_chunk_task

    scoring_job_chunk_task.apply_async(args=[chunk_id, phase], queue=settings.JOB_QUEUE)


# ------------------------------------------------------------------ claims


def scoring_job_chunk_claim(*, chunk_id: int, phase: Phase = INGEST) -> datetime | None:
    """Take a chunk waiting for `phase`, or one whose holder's lease ran out; the claim's time, None if not taken."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.JOB_CHUNK_LEASE_SECONDS)
    claimable = Q(status=phase.waiting) | Q(status=phase.claimed, claimed_at__lt=stale)
    jobs = ScoringJob.objects.filter(status=ScoringJob.Status.RUNNING)
    if phase is SCORE:
        jobs = jobs.filter(phase=ScoringJob.Phase.SCORING)
    with db.atomic():
        # SKIP LOCKED: a row locked by a live worker's work is not claimable, whatever its lease says, and this does not
        # wait for that work to commit.
        free = ScoringJobChunk.objects.select_for_update(skip_locked=True, of=("self",))
        if not free.filter(claimable, pk=chunk_id, job__in=jobs).exists():
            return None
        ScoringJobChunk.objects.filter(pk=chunk_id).update(
            status=phase.claimed, claimed_at=now, attempts=F("attempts") + 1
        )
    return now


def _release(chunk_id: int, phase: Phase, claimed_at: datetime) -> None:
    """The phase's work rolled back; give the claim up so a retry need not wait for the lease."""
    ScoringJobChunk.objects.filter(pk=chunk_id, status=phase.claimed, claimed_at=claimed_at).update(
        status=phase.waiting
    )


def _finish_claim(chunk: ScoringJobChunk, phase: Phase, claimed_at: datetime) -> bool:
    """Move the chunk on only if this claim still holds; the row stays locked until the phase's work commits, so
    a worker taking over an expired lease waits, then finds the chunk finished (or, if this one died, claimable)."""
    mine = ScoringJobChunk.objects.filter(pk=chunk.pk, status=phase.claimed, claimed_at=claimed_at)
    return bool(mine.update(status=phase.finished, finished_at=timezone.now()))


# ------------------------------------------------------------------ run


def scoring_job_chunk_run(*, chunk_id: int, phase: str = "") -> str:
    """Do a chunk's next steps: store it if it waits to be stored (unless `phase` is "score"), then score it if
    the job is scoring.

    Returns 'done' (scored), 'stored', or 'skipped' (nothing this call could do: done already, or stored and
    waiting for the rest of the job); raises ChunkBusy when a live worker holds the chunk.
    """
    stored = False
    if phase != "score":
        stored = _run_phase(chunk_id, INGEST, _ingest)
        job_id = ScoringJobChunk.objects.filter(pk=chunk_id).values_list("job_id", flat=True).get()
        if not scoring_job_score_if_stored(job_id=job_id) and not stored:
            # A repeated delivery: the worker that moved the job to scoring may have died before queuing it all.
            _queue_stored(job_id)
    if _run_phase(chunk_id, SCORE, _score):
        return "done"
    return "stored" if stored else "skipped"


def _run_phase(chunk_id: int, phase: Phase, work) -> bool:
    claimed_at = scoring_job_chunk_claim(chunk_id=chunk_id, phase=phase)
    if claimed_at is None:
        if ScoringJobChunk.objects.filter(pk=chunk_id, status=phase.claimed).exists():
            raise ChunkBusy(chunk_id)
        return False
    chunk = ScoringJobChunk.objects.select_related("job__source__organisation").get(pk=chunk_id)
    try:
        with db.atomic():
            if not _finish_claim(chunk, phase, claimed_at):
                return False
            work(chunk)
    except Exception:
        _release(chunk_id, phase, claimed_at)
        raise
    if phase is SCORE:
        scoring_job_finish_if_done(job_id=chunk.job_id)
    job_progress.publish(chunk.job_id)
    return True


def _chunk_frame(chunk: ScoringJobChunk, columns: list[str] | None = None) -> pd.DataFrame:
    return pd.read_parquet(media_path(chunk.file_path), columns=columns)


def _ingest(chunk: ScoringJobChunk) -> None:
    frame = _chunk_frame(chunk)
    attribute_names = [c.removeprefix("attr_") for c in frame.columns if c.startswith("attr_")]
    created = transactions_store_frame(source=chunk.job.source, frame=frame, attributes=attribute_names)
    ScoringJobChunk.objects.filter(pk=chunk.pk).update(created_rows=created, existing_rows=len(frame) - created)
    ScoringJob.objects.filter(pk=chunk.job_id).update(
        stored_rows=F("stored_rows") + chunk.row_count,
        created_rows=F("created_rows") + created,
        existing_rows=F("existing_rows") + len(frame) - created,
        error_rows=F("error_rows") + chunk.error_rows,
    )


def _score(chunk: ScoringJobChunk) -> None:
    started = time.perf_counter()
    ids = _chunk_frame(chunk, ["transaction_id"])["transaction_id"].tolist()
    # A person's upload (not a partner's job over the API) is kept out of the live review queue.
    upload_job_id = chunk.job_id if chunk.job.source.kind == Source.Kind.UPLOAD else None
    result = score_stored(
        stored=StoredRows(source_id=chunk.job.source_id, transaction_ids=ids), upload_job_id=upload_job_id
    )
    ScoringJobChunk.objects.filter(pk=chunk.pk).update(flagged_rows=result.flagged)
    ScoringJob.objects.filter(pk=chunk.job_id).update(
        processed_rows=F("processed_rows") + chunk.row_count, flagged_rows=F("flagged_rows") + result.flagged
    )
    if result.scored:
        seconds = time.perf_counter() - started
        db.on_commit(
            lambda: metrics.counts_recorded(
                organisation=chunk.job.source.organisation.name,
                model_version=result.version,
                scored=result.scored,
                flagged=result.flagged,
                kind="job",
                seconds=seconds,
            )
        )


# ------------------------------------------------------------------ the job's phases


def scoring_job_score_if_stored(*, job_id: int) -> bool:
    """Move the job from ingesting to scoring once its file is split and every chunk is stored, and queue the
    scoring of its chunks, oldest first. One UPDATE decides, so exactly one caller makes the move; a caller that
    finds the job scoring already queues the chunks still waiting (a worker may have died before queuing them)."""
    unstored = ScoringJobChunk.objects.filter(job_id=OuterRef("pk"), status__in=(Chunk.PENDING, Chunk.INGESTING))
    moved = (
        ScoringJob.objects.filter(pk=job_id, status=ScoringJob.Status.RUNNING, phase=ScoringJob.Phase.INGESTING)
        .filter(split_at__isnull=False)
        .exclude(Exists(unstored))
        .update(phase=ScoringJob.Phase.SCORING)
    )
    if moved:
        job_progress.publish(job_id)
        _queue_stored(job_id)
        scoring_job_finish_if_done(job_id=job_id)
    return bool(moved)


def _queue_stored(job_id: int) -> None:
    """Queue the scoring of a scoring job's chunks that wait for it, oldest transactions first."""
    waiting = ScoringJobChunk.objects.filter(
        job_id=job_id, status=Chunk.STORED, job__phase=ScoringJob.Phase.SCORING, job__status=ScoringJob.Status.RUNNING
    )
    for chunk_id in waiting.order_by(F("starts_at").asc(nulls_last=True), "index").values_list("pk", flat=True):
        db.on_commit(lambda chunk_id=chunk_id: enqueue_chunk(chunk_id, phase="score"))


def scoring_job_finish_if_done(*, job_id: int) -> bool:
    """Mark a scoring job done once every chunk is; run after each chunk's scores commit (the last one wins)."""
    left = ScoringJobChunk.objects.filter(job_id=OuterRef("pk")).exclude(status=Chunk.DONE)
    done = (
        ScoringJob.objects.filter(pk=job_id, status=ScoringJob.Status.RUNNING, phase=ScoringJob.Phase.SCORING)
        .exclude(Exists(left))
        .update(status=ScoringJob.Status.DONE, finished_at=timezone.now())
    )
    if done:
        job_progress.publish(job_id)
    return bool(done)


# ------------------------------------------------------------------ takeover of a dead worker's work

SPLIT_LOCK_SPACE = 7_202_201  # the first key of the splits' PostgreSQL advisory locks; the job's id is the second


@contextmanager
def scoring_job_split_lock(job_id: int):
    """Hold the job's split lock (a session advisory lock: PostgreSQL drops it when the worker's connection dies) for
    the length of the block; yields False, holding nothing, if another live worker splits this job."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [SPLIT_LOCK_SPACE, job_id])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [SPLIT_LOCK_SPACE, job_id])


def scoring_jobs_requeue_stalled() -> dict[str, int]:
    """Queue again the work of dead workers: chunks claimed longer than the lease whose rows no live worker locks
    (put back to waiting first, so the next sweep does not queue them twice), and splits of running jobs whose split
    lock nobody holds. Their tasks' own messages would come back only after the broker's visibility timeout."""
    stale = timezone.now() - timedelta(seconds=settings.JOB_CHUNK_LEASE_SECONDS)
    chunks = _release_expired_claims(stale)
    splits = [job_id for job_id in _splits_started_before(stale) if _split_abandoned(job_id)]
    for job_id in splits:
        _enqueue_split_again(job_id)
    if chunks or splits:
        logger.warning("requeued stalled job work", extra={"chunks": len(chunks), "splits": splits})
    return {"chunks": len(chunks), "splits": len(splits)}


def _release_expired_claims(stale: datetime) -> list[int]:
    expired = ScoringJobChunk.objects.select_for_update(skip_locked=True, of=("self",)).filter(
        status__in=ScoringJobChunk.CLAIMED, claimed_at__lt=stale, job__status=ScoringJob.Status.RUNNING
    )
    released = []
    with db.atomic():
        for chunk_id, status in expired.values_list("pk", "status"):
            phase = SCORE if status == Chunk.SCORING else INGEST
            ScoringJobChunk.objects.filter(pk=chunk_id).update(status=phase.waiting)
            db.on_commit(lambda chunk_id=chunk_id, phase=phase: _enqueue_quietly(chunk_id, phase))
            released.append(chunk_id)
    return released


def _enqueue_quietly(chunk_id: int, phase: Phase) -> None:
    """One chunk the broker cannot take must not stop the others; the dead worker's own message, which the broker
    hands out again after its visibility timeout, still covers it."""
    try:
        enqueue_chunk(chunk_id, phase="score" if phase is SCORE else "")
    except Exception:  # noqa: BLE001 - logged; see above
        logger.exception("could not queue a released chunk", extra={"chunk": chunk_id})


def _splits_started_before(stale: datetime) -> list[int]:
    unsplit = ScoringJob.objects.filter(status=ScoringJob.Status.RUNNING, split_at__isnull=True, started_at__lt=stale)
    return list(unsplit.values_list("pk", flat=True))


def _split_abandoned(job_id: int) -> bool:
    with scoring_job_split_lock(job_id) as free:
        return free


def _enqueue_split_again(job_id: int) -> None:
    from detection.jobs.tasks import scoring_job_split_task

    try:
        scoring_job_split_task.apply_async(args=[job_id], queue=settings.JOB_QUEUE)
    except Exception:  # noqa: BLE001 - the next sweep tries again
        logger.exception("could not queue an abandoned split", extra={"job": job_id})
