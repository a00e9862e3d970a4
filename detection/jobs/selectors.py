"""Reads of scoring jobs: the jobs a caller may follow (every page, endpoint and socket goes through these), and
the unfinished jobs' rows for /metrics.

A job belongs to its source's organisation; it is visible only within that organisation: to the partner that sent
it (its token's source), to the person who started it, and to people who may see every job.
"""

from django.db.models import QuerySet
from prometheus_client.core import GaugeMetricFamily

from detection.models import ScoringJob

SEE_ALL_JOBS_PERM = "detection.view_scoringjob"


def scoring_jobs_visible(*, organisation_id: int | None, user=None, token=None) -> QuerySet[ScoringJob]:
    """The organisation's jobs the caller may see: a partner (`token`) its source's, a person (`user`) their own,
    or all of them with the see-all permission. None: of no organisation, nothing."""
    if organisation_id is None or (token is None and not (user and user.is_authenticated)):
        return ScoringJob.objects.none()
    jobs = ScoringJob.objects.select_related("source").filter(source__organisation_id=organisation_id)
    if token is not None:
        return jobs.filter(source_id=token.source_id)
    return jobs if user.has_perm(SEE_ALL_JOBS_PERM) else jobs.filter(created_by=user)


def scoring_job_visible(*, organisation_id: int | None, job_id: int, user=None, token=None) -> ScoringJob | None:
    """The job if the caller may see it within the organisation, else None (the caller answers 404)."""
    return scoring_jobs_visible(organisation_id=organisation_id, user=user, token=token).filter(pk=job_id).first()


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
