"""Reads about model versions for /metrics: the version in force in each organisation (read at scrape time)."""

from prometheus_client.core import GaugeMetricFamily

from detection.models import ModelVersion


def active_models_gauge():
    """/metrics: 1 for each organisation's active model version, labelled with its number (none: no series)."""
    active = GaugeMetricFamily(
        "anomaly_model_active",
        "The model version in force, by organisation (value 1; model_version is its number).",
        labels=["organisation", "model_version"],
    )
    rows = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).values_list("organisation__name", "version")
    for organisation, version in sorted(rows):
        active.add_metric([organisation, str(version)], 1)
    yield active
