"""Reads for the model-performance pages: versions, labelled scores, daily volumes and outcomes.

Every read is of one organisation: its versions (whose scores are its transactions'), its alerts and outcomes.
Every read is bounded (a window of days, a row limit) so the page costs the same with a year of history.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Floor, TruncDate
from django.utils import timezone

from detection.models import ModelVersion, Score, ShadowScore
from detection.performance.metrics import Confusion
from transactions.models import LabelSource, Transaction

PERFORMANCE_DAYS = 30
MAX_VERSIONS = 20
MAX_LABELLED_ROWS = 50_000
HISTOGRAM_BUCKETS = 200


@dataclass(frozen=True)
class LabelledScores:
    """Scores of labelled transactions under one version (newest labels first, at most MAX_LABELLED_ROWS)."""

    scores: np.ndarray
    labels: np.ndarray
    components: dict[str, np.ndarray]
    by_source: dict[str, dict[str, int]]  # label source -> {"fraud": n, "legitimate": n}

    @property
    def count(self) -> int:
        return int(self.labels.size)

    @property
    def fraud(self) -> int:
        return int(self.labels.sum())


def model_versions_recent(*, organisation_id: int, limit: int = MAX_VERSIONS) -> list[ModelVersion]:
    """The organisation's newest versions, without their (large) artifacts."""
    versions = ModelVersion.objects.filter(organisation_id=organisation_id).defer("artifact")
    return list(versions.order_by("-version")[:limit])


def model_version_pick(versions: list[ModelVersion], number: str | int | None) -> ModelVersion | None:
    """The version asked for, else the active one, else the newest that is not failed or training."""
    by_number = {str(v.version): v for v in versions}
    if number is not None and str(number) in by_number:
        return by_number[str(number)]
    active = [v for v in versions if v.status == ModelVersion.Status.ACTIVE]
    usable = [v for v in versions if v.status in (ModelVersion.Status.READY, ModelVersion.Status.RETIRED)]
    return (active or usable or versions or [None])[0]


def model_version_active(*, organisation_id: int) -> ModelVersion | None:
    active = ModelVersion.objects.filter(organisation_id=organisation_id, status=ModelVersion.Status.ACTIVE)
    return active.defer("artifact").first()


def labelled_scores(*, version: ModelVersion, limit: int = MAX_LABELLED_ROWS) -> LabelledScores:
    rows = list(
        Score.objects.filter(model_version=version, transaction__label__isnull=False)
        .order_by("-transaction__labelled_at", "-id")
        .values_list("score", "components", "transaction__label", "transaction__label_source")[:limit]
    )
    scores = np.array([r[0] for r in rows], dtype=float)
    labels = np.array([r[2] for r in rows], dtype=int)
    names = sorted({name for r in rows for name in (r[1] or {})})
    components = {name: np.array([(r[1] or {}).get(name, np.nan) for r in rows], dtype=float) for name in names}
    by_source: dict[str, dict[str, int]] = {}
    for _, _, label, source in rows:
        counts = by_source.setdefault(source or "unknown", {"fraud": 0, "legitimate": 0})
        counts["fraud" if label == 1 else "legitimate"] += 1
    return LabelledScores(scores=scores, labels=labels, components=components, by_source=by_source)


def labelled_confusion(*, version: ModelVersion, threshold: float) -> Confusion:
    """Exact counts over every labelled transaction this version scored, flagged meaning score ≥ threshold."""
    flagged, fraud = Q(score__gte=threshold), Q(transaction__label=Transaction.FRAUD)
    counts = Score.objects.filter(model_version=version, transaction__label__isnull=False).aggregate(
        tp=Count("id", filter=flagged & fraud),
        fp=Count("id", filter=flagged & ~fraud),
        fn=Count("id", filter=~flagged & fraud),
        tn=Count("id", filter=~flagged & ~fraud),
    )
    return Confusion(**counts)


def window_start(days: int, *, now: datetime | None = None) -> datetime:
    """Midnight (UTC) starting the last `days` calendar days, today included."""
    today = (now or timezone.now()).astimezone(timezone.get_current_timezone()).date()
    start = today - timedelta(days=days - 1)
    return datetime(start.year, start.month, start.day, tzinfo=timezone.get_current_timezone())


def day_range(start: datetime, days: int) -> list[date]:
    return [start.date() + timedelta(days=i) for i in range(days)]


def score_volume_by_day(*, version: ModelVersion, since: datetime) -> dict[date, dict[str, int]]:
    """Scored and flagged transactions per day (by scoring time) under one version."""
    rows = (
        Score.objects.filter(model_version=version, created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(scored=Count("id"), flagged=Count("id", filter=Q(is_anomaly=True)))
    )
    return {r["day"]: {"scored": r["scored"], "flagged": r["flagged"]} for r in rows}


def alerts_by_day(*, organisation_id: int, since: datetime) -> dict[date, int]:
    """The organisation's alerts raised per day, read through the scores they were raised for (the alerts app sits
    above this one)."""
    scores = Score.objects.filter(transaction__source__organisation_id=organisation_id, alerts__created_at__gte=since)
    rows = scores.annotate(day=TruncDate("alerts__created_at"))
    return {r["day"]: r["n"] for r in rows.values("day").annotate(n=Count("alerts__id")).order_by()}


def flagged_outcomes_by_day(*, organisation_id: int, since: datetime) -> dict[date, dict[str, int]]:
    """Known outcomes of the organisation's flagged (queued) transactions per day they became known, split by where
    they came from."""
    rows = (
        Transaction.objects.filter(source__organisation_id=organisation_id)
        .filter(review_item__isnull=False, label__isnull=False, labelled_at__gte=since)
        .annotate(day=TruncDate("labelled_at"))
        .values("day")
        .annotate(
            review_fraud=Count("id", filter=Q(label=1, label_source=LabelSource.REVIEW)),
            review_legitimate=Count("id", filter=Q(label=0, label_source=LabelSource.REVIEW)),
            other_fraud=Count("id", filter=Q(label=1) & ~Q(label_source=LabelSource.REVIEW)),
            other_legitimate=Count("id", filter=Q(label=0) & ~Q(label_source=LabelSource.REVIEW)),
        )
        .order_by()
    )
    return {r.pop("day"): r for r in rows}


def traffic_by_day(
    *, version: ModelVersion, since: datetime, threshold: float, current: float, bands: tuple[float, float, float]
) -> list[dict]:
    """Per day with traffic: scored, flagged at `threshold` and at the `current` threshold, and how many scores
    would fall in the medium, high and critical bands given as (medium, high, critical) lower edges."""
    medium, high, critical = bands
    rows = (
        Score.objects.filter(model_version=version, created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(
            scored=Count("id"),
            flagged=Count("id", filter=Q(score__gte=threshold)),
            flagged_now=Count("id", filter=Q(score__gte=current)),
            medium=Count("id", filter=Q(score__gte=medium, score__lt=high)),
            high=Count("id", filter=Q(score__gte=high, score__lt=critical)),
            critical=Count("id", filter=Q(score__gte=critical)),
        )
        .order_by("day")
    )
    return list(rows)


def score_histogram(*, version: ModelVersion, since: datetime, buckets: int = HISTOGRAM_BUCKETS) -> np.ndarray:
    """Counts of scores per bucket [k/buckets, (k+1)/buckets) since `since`; a score of 1 joins the last bucket."""
    rows = (
        Score.objects.filter(model_version=version, created_at__gte=since)
        .annotate(bucket=Floor(F("score") * buckets))
        .values("bucket")
        .annotate(n=Count("id"))
        .order_by()
    )
    histogram = np.zeros(buckets, dtype=int)
    for row in rows:
        histogram[min(int(row["bucket"]), buckets - 1)] += row["n"]
    return histogram


def challenger_current(*, organisation_id: int) -> ModelVersion | None:
    """The organisation's challenger (scoring in shadow), without its artifact."""
    return ModelVersion.objects.filter(organisation_id=organisation_id, challenger=True).defer("artifact").first()


@dataclass(frozen=True)
class ShadowPairs:
    """The newest transactions the challenger scored in shadow with the champion's score of each, newest first."""

    transaction_ids: np.ndarray
    challenger: np.ndarray  # its scores
    champion: np.ndarray  # the score of the version active beside it, for the same transaction
    champion_versions: list[int]  # their numbers
    labels: np.ndarray  # float: 1 fraud, 0 legitimate, NaN unknown

    @property
    def count(self) -> int:
        return int(self.transaction_ids.size)


def shadow_pairs(*, challenger: ModelVersion, limit: int = MAX_LABELLED_ROWS) -> ShadowPairs:
    """Both versions' scores of the same transactions (those the challenger scored in shadow), one query."""
    champion = Score.objects.filter(
        transaction_id=OuterRef("transaction_id"),
        transaction_time=OuterRef("transaction_time"),
        model_version_id=OuterRef("champion_id"),
    ).values("score")[:1]
    rows = list(
        ShadowScore.objects.filter(model_version=challenger)
        .annotate(champion_score=Subquery(champion))
        .filter(champion_score__isnull=False)
        .order_by("-created_at", "-id")
        .values_list("transaction_id", "score", "champion_score", "champion__version", "transaction__label")[:limit]
    )
    return ShadowPairs(
        transaction_ids=np.array([r[0] for r in rows], dtype=np.int64),
        challenger=np.array([r[1] for r in rows], dtype=np.float64),
        champion=np.array([r[2] for r in rows], dtype=np.float64),
        champion_versions=sorted({r[3] for r in rows}),
        labels=np.array([np.nan if r[4] is None else r[4] for r in rows], dtype=np.float64),
    )


def transactions_by_pk(pks: list[int]) -> dict[int, Transaction]:
    return Transaction.objects.in_bulk(pks)
