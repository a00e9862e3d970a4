"""Writes for monitoring: measuring a day's drift against the active model version's training sample.

Every feature of the version is measured against the training sample its artifact keeps (the detector's feature
profile), and the score against the version's scores of a sample of its training window; both references are kept
as bins and shares (DriftReference) the first time, so every day is measured against the same bins.
"""

import logging
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from django.conf import settings
from django.db import transaction

from accounts.models import Organisation
from detection.engine.drift import psi_of_shares, reference_bins, shares_in
from detection.engine.frame import Frame
from detection.scoring import adapters, registry
from monitoring.events import DriftMeasured, drift_measured_publish
from monitoring.models import SCORE_FEATURE, DriftMeasurement, DriftReference
from transactions.models import Transaction

logger = logging.getLogger(__name__)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _sample_pks(*, organisation_id: int, since: datetime, until: datetime) -> list[int]:
    """The organisation's transactions of a window, at most DRIFT_SAMPLE_ROWS of them (drawn alike each run)."""
    pks = np.fromiter(
        Transaction.objects.filter(source__organisation_id=organisation_id, timestamp__gte=since, timestamp__lt=until)
        .order_by("pk")
        .values_list("pk", flat=True),
        dtype=np.int64,
    )
    if len(pks) > settings.DRIFT_SAMPLE_ROWS:
        pks = np.sort(np.random.default_rng(0).choice(pks, settings.DRIFT_SAMPLE_ROWS, replace=False))
    return pks.tolist()


def _scored(detector, *, organisation_id: int, pks: list[int]) -> dict[str, np.ndarray]:
    """Each feature's values and the score of stored transactions, by the one feature pipeline and the detector."""
    columns, targets = adapters.frame_for_stored(adapters.StoredRows(pks=pks), organisation_id=organisation_id)
    if not targets.any():
        return {}
    output = detector.score_frame(Frame.of(columns), target_mask=targets, reasons=False)
    values = {name: output.features.X[:, j] for j, name in enumerate(output.features.names)}
    return {SCORE_FEATURE: np.asarray(output.score), **values}


def _references(loaded, *, organisation_id: int) -> dict[str, DriftReference]:
    """The version's references, made the first time: its features from the training sample its artifact keeps,
    its score from scoring a sample of its training window (none when the window is unknown or empty)."""
    version = loaded.version
    kept = {ref.feature: ref for ref in DriftReference.objects.filter(version=version)}
    if kept:
        return kept
    detector = loaded.detector
    columns = {name: detector.profile.reference[:, j] for j, name in enumerate(detector.feature_names)}
    if version.training_start is not None and version.training_end is not None:
        pks = _sample_pks(organisation_id=organisation_id, since=version.training_start, until=version.training_end)
        score = _scored(detector, organisation_id=organisation_id, pks=pks).get(SCORE_FEATURE)
        if score is not None and len(score):
            columns = {SCORE_FEATURE: score, **columns}
    references = []
    for name, values in columns.items():
        edges, shares = reference_bins(values)
        references.append(
            DriftReference(
                organisation_id=organisation_id,
                version=version,
                feature=name,
                edges=edges.tolist(),
                shares=shares.tolist(),
                rows=len(values),
            )
        )
    DriftReference.objects.bulk_create(references, ignore_conflicts=True)
    return {ref.feature: ref for ref in DriftReference.objects.filter(version=version)}


@transaction.atomic
def drift_measure(*, organisation_id: int, day: date) -> list[DriftMeasurement]:
    """Measure one UTC day of the organisation's transactions against its active version (again, when measured
    before: the day's rows are replaced). Nothing without an active version or with fewer than DRIFT_MIN_ROWS
    transactions that day. Drift rules are evaluated on the result (DriftMeasured) in the same transaction."""
    try:
        loaded = registry.active_model(organisation_id=organisation_id)
    except registry.NoActiveModel:
        return []
    if getattr(loaded.detector, "profile", None) is None:
        return []
    since, until = day_bounds(day)
    pks = _sample_pks(organisation_id=organisation_id, since=since, until=until)
    if len(pks) < settings.DRIFT_MIN_ROWS:
        return []
    references = _references(loaded, organisation_id=organisation_id)
    values = _scored(loaded.detector, organisation_id=organisation_id, pks=pks)
    measured = []
    for name, reference in references.items():
        if name not in values:
            continue
        shares = shares_in(values[name], np.asarray(reference.edges, dtype=np.float64))
        measurement, _ = DriftMeasurement.objects.update_or_create(
            organisation_id=organisation_id,
            version=loaded.version,
            day=day,
            feature=name,
            defaults={
                "psi": round(max(psi_of_shares(reference.shares, shares), 0.0), 6),
                "shares": [round(float(share), 6) for share in shares],
                "rows": len(values[name]),
            },
        )
        measured.append(measurement)
    drift_measured_publish(
        DriftMeasured(organisation_id=organisation_id, day=day, measurement_ids=tuple(m.pk for m in measured))
    )
    return measured


def drift_check(*, day: date | None = None, organisation_ids: list[int] | None = None) -> dict[int, int]:
    """Measure a day (yesterday, UTC, by default: the last whole day) for every organisation with an active version
    (or those given): {organisation id: features measured}. One organisation's failure does not stop the others."""
    day = day or (datetime.now(UTC).date() - timedelta(days=1))
    ids = organisation_ids or list(Organisation.objects.order_by("pk").values_list("pk", flat=True))
    done = {}
    for organisation_id in ids:
        try:
            done[organisation_id] = len(drift_measure(organisation_id=organisation_id, day=day))
        except Exception:  # noqa: BLE001 - one organisation's failure must not stop the others
            logger.exception("drift check failed", extra={"organisation_id": organisation_id, "day": str(day)})
            done[organisation_id] = 0
    return done
