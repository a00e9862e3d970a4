"""Reads for monitoring: an organisation's drift by feature and day, and the /metrics gauge."""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import QuerySet
from prometheus_client.core import GaugeMetricFamily

from detection.models import ModelVersion
from monitoring.models import SCORE_FEATURE, DriftMeasurement, DriftReference, drift_level

TREND_DAYS = 30


def drift_measurements(*, organisation_id: int) -> QuerySet[DriftMeasurement]:
    return DriftMeasurement.objects.filter(organisation_id=organisation_id)


def active_version(*, organisation_id: int) -> ModelVersion | None:
    return ModelVersion.objects.filter(organisation_id=organisation_id, status=ModelVersion.Status.ACTIVE).first()


@dataclass
class FeatureDrift:
    """One feature's row of the drift page: its latest day's index and its trend over TREND_DAYS days."""

    feature: str
    latest: DriftMeasurement | None
    trend: list[tuple[date, float]] = field(default_factory=list)

    @property
    def psi(self) -> float | None:
        return self.latest.psi if self.latest else None

    @property
    def level(self) -> str:
        return drift_level(self.psi)

    @property
    def sparkline(self) -> str:
        """SVG polyline points (100 × 20) of the trend, the index capped at 0.5."""
        if not self.trend:
            return ""
        first, span = self.trend[0][0], max((self.trend[-1][0] - self.trend[0][0]).days, 1)
        return " ".join(
            f"{100 * (day - first).days / span:.1f},{20 - 20 * min(value, 0.5) / 0.5:.1f}" for day, value in self.trend
        )


def drift_overview(*, organisation_id: int, version: ModelVersion) -> list[FeatureDrift]:
    """Per feature of the version (the score first), its newest measurement and its last TREND_DAYS days."""
    rows = list(
        drift_measurements(organisation_id=organisation_id)
        .filter(version=version)
        .order_by("feature", "day")
        .only("feature", "day", "psi", "rows")
    )
    newest = max((row.day for row in rows), default=None)
    by_feature: dict[str, FeatureDrift] = {
        name: FeatureDrift(feature=name, latest=None) for name in [SCORE_FEATURE, *version.feature_names]
    }
    for row in rows:
        entry = by_feature.setdefault(row.feature, FeatureDrift(feature=row.feature, latest=None))
        if newest - row.day < timedelta(days=TREND_DAYS):
            entry.trend.append((row.day, row.psi))
        if row.day == newest:
            entry.latest = row
    return list(by_feature.values())


@dataclass
class Bin:
    label: str
    reference: float
    day: float


def drift_bins(*, organisation_id: int, version: ModelVersion, feature: str, day: date | None = None):
    """The reference's bins of one feature with the reference's and a day's share (the newest day by default):
    (measurement, bins), or None when the feature has no reference."""
    reference = DriftReference.objects.filter(organisation_id=organisation_id, version=version, feature=feature).first()
    if reference is None:
        return None
    measurements = drift_measurements(organisation_id=organisation_id).filter(version=version, feature=feature)
    measurement = (measurements.filter(day=day) if day else measurements.order_by("-day")).first()
    day_shares = measurement.shares if measurement else [0.0] * len(reference.shares)
    return measurement, [
        Bin(label=label, reference=ref, day=share)
        for label, ref, share in zip(bin_labels(reference.edges), reference.shares, day_shares, strict=True)
    ]


def bin_labels(edges: list[float]) -> list[str]:
    if not edges:
        return ["all"]
    text = [f"{edge:.4g}" for edge in edges]
    return [f"≤ {text[0]}", *(f"{low} – {high}" for low, high in zip(text, text[1:], strict=False)), f"> {text[-1]}"]


def drift_gauge():
    """anomaly_feature_drift_psi: each organisation's newest day's index per feature of its active version (one
    series per organisation and feature of that version: bounded by the versions' features)."""
    gauge = GaugeMetricFamily(
        "anomaly_feature_drift_psi",
        "Population stability index of each feature (and the score) on the newest day measured, against the "
        "active model version's training sample.",
        labels=["organisation", "feature"],
    )
    newest = (
        DriftMeasurement.objects.filter(version__status=ModelVersion.Status.ACTIVE)
        .order_by("organisation_id", "feature", "-day")
        .distinct("organisation_id", "feature")
        .values_list("organisation__name", "feature", "psi")
    )
    for organisation, feature, psi in newest:
        gauge.add_metric([organisation, feature], psi)
    yield gauge
