"""Reads of scoring jobs: the jobs a caller may follow, a job's errors and scored rows, and /metrics' gauge.

A job belongs to its source's organisation and is visible only within it: to the partner that sent it (its token's
source), to the person who started it, and to people there who may see every job.
"""

from collections.abc import Iterator

import pandas as pd
from django.db.models import Count, F, QuerySet
from django.http import Http404
from prometheus_client.core import GaugeMetricFamily

from accounts.models import PartnerToken
from detection.jobs.services import media_path
from detection.models import Decision, Score, ScoringJob, ScoringJobChunk, matched_rules
from detection.staging.selectors import may_upload

SEE_ALL_JOBS_PERM = "detection.view_scoringjob"
RECENT_JOBS = 20
RESULT_COLUMNS = (
    "row",
    "transaction_id",
    "score",
    "risk_level",
    "is_anomaly",
    "model_version",
    "reasons",
    "decision",
    "rules",
)


def scoring_jobs_visible(
    *, user=None, token: PartnerToken | None = None, organisation_id: int | None = None
) -> QuerySet[ScoringJob]:
    """The jobs a caller may follow, one rule however it comes (the upload pages, the jobs API with a session or a
    token, the job socket): a partner token its own source's jobs; a person who may upload, within the organisation
    they work in (`organisation_id`), their own, or anyone's there with the permission to see every job; anyone
    else none."""
    jobs = ScoringJob.objects.select_related("source")
    if token is not None:
        return jobs.filter(source=token.source)
    if organisation_id is None or not may_upload(user):
        return ScoringJob.objects.none()
    jobs = jobs.filter(source__organisation_id=organisation_id)
    return jobs if user.has_perm(SEE_ALL_JOBS_PERM) else jobs.filter(created_by=user)


def scoring_job_get(
    *, job_id: int, user=None, token: PartnerToken | None = None, organisation_id: int | None = None
) -> ScoringJob:
    """The job if the caller may follow it (scoring_jobs_visible); Http404 otherwise, whether it exists or not."""
    visible = scoring_jobs_visible(user=user, token=token, organisation_id=organisation_id)
    job = visible.filter(pk=job_id).first()
    if job is None:
        raise Http404("No such job.")
    return job


def scoring_jobs_recent(*, user, organisation_id: int) -> QuerySet[ScoringJob]:
    """This person's own latest jobs in the organisation they work in, for the uploads page."""
    mine = ScoringJob.objects.filter(created_by=user, source__organisation_id=organisation_id)
    return mine.select_related("source")[:RECENT_JOBS]


def scoring_job_errors(job: ScoringJob, *, limit: int = 100) -> list[dict]:
    errors: list[dict] = []
    for chunk_errors in job.chunks.exclude(errors=[]).order_by("index").values_list("errors", flat=True):
        errors.extend(chunk_errors[: limit - len(errors)])
        if len(errors) >= limit:
            break
    return errors


def scoring_job_result_rows(job: ScoringJob) -> Iterator[tuple]:
    """Each scored row of the file, in file order, with its transaction's latest score (RESULT_COLUMNS)."""
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
        .filter(transaction_time=F("transaction__timestamp"))
        .order_by("transaction_id", "-created_at", "-id")
        .distinct("transaction_id")
        .values_list(
            "transaction__transaction_id",
            "score",
            "risk_level",
            "is_anomaly",
            "model_version__version",
            "reasons",
            "decision",
            "rules",
        )
    )
    return {r[0]: (round(r[1], 6), *r[2:5], "; ".join(r[5]), _decision(r[6], r[3]), _rules_text(r[7])) for r in rows}


def _decision(decision: str, flagged: bool) -> str:
    """The stored decision; for a score stored before decisions existed, the one its flag stood for."""
    return decision or (Decision.REVIEW if flagged else Decision.ALLOW)


def _rules_text(rules: list[dict]) -> str:
    """The matched rules as one cell: `name vN (action)`, separated by "; "."""
    return "; ".join(f"{rule['name']} v{rule['version']} ({rule['action']})" for rule in matched_rules(rules))


def job_rows_gauge():
    """/metrics: every unfinished job's rows by state, labelled with its organisation (read at scrape time)."""
    rows = GaugeMetricFamily(
        "anomaly_job_rows", "Rows of unfinished scoring jobs.", labels=["organisation", "job", "state"]
    )
    active = ScoringJob.objects.filter(status__in=ScoringJob.UNFINISHED).values(
        "id", "source__organisation__name", "total_rows", "processed_rows", "error_rows", "flagged_rows"
    )
    for job in active:
        for state in ("total", "processed", "error", "flagged"):
            rows.add_metric([job["source__organisation__name"], str(job["id"]), state], job[f"{state}_rows"])
    yield rows


def jobs_status_gauge():
    """/metrics: scoring jobs by organisation and status (read at scrape time)."""
    jobs = GaugeMetricFamily(
        "anomaly_jobs", "Scoring jobs, by organisation and status.", labels=["organisation", "status"]
    )
    counts = (
        ScoringJob.objects.values_list("source__organisation__name", "status").annotate(count=Count("pk")).order_by()
    )
    for organisation, status, count in sorted(counts):
        jobs.add_metric([organisation, status], count)
    yield jobs
