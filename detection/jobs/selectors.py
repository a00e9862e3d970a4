"""Reads of scoring jobs for /metrics."""

from prometheus_client.core import GaugeMetricFamily

from detection.models import ScoringJob


def job_rows_gauge():
    """/metrics: every unfinished job's rows by state (read at scrape time)."""
    rows = GaugeMetricFamily("anomaly_job_rows", "Rows of unfinished scoring jobs.", labels=["job", "state"])
    active = ScoringJob.objects.filter(status__in=ScoringJob.UNFINISHED).values(
        "id", "total_rows", "processed_rows", "error_rows", "flagged_rows"
    )
    for job in active:
        for state in ("total", "processed", "error", "flagged"):
            rows.add_metric([str(job["id"]), state], job[f"{state}_rows"])
    yield rows
