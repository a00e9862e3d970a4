"""A candidate version beside the organisation's active one on the same recent traffic, before it is activated.

Both versions score the newest COMPARE_MAX_ROWS transactions of the last COMPARE_DAYS days (up to the newest one
stored), in memory, with the same features (detection.scoring.adapters.frame_for_window, with the lookback their
features read): nothing is stored. The labelled ones among them give ROC AUC, average precision and the curves;
every one counts towards the flags per day at the review threshold in force and the transactions the two disagree on.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from django.conf import settings
from django.db.models import Max

from detection.charts import BarSeries, Series, bar_chart, line_chart
from detection.engine.features import ACCOUNT_LOOKBACK_SECONDS, MERCHANT_LOOKBACK_SECONDS
from detection.models import ModelVersion, RiskPolicy
from detection.performance.metrics import Confusion, both_classes, confusion, curves
from detection.scoring import adapters, registry
from transactions.models import Transaction

LOOKBACK = timedelta(seconds=max(ACCOUNT_LOOKBACK_SECONDS, MERCHANT_LOOKBACK_SECONDS))
DISAGREEMENTS_SHOWN = 50
TRAINED = (ModelVersion.Status.READY, ModelVersion.Status.ACTIVE, ModelVersion.Status.RETIRED)


@dataclass
class Figures:
    """One version's figures on the window."""

    version: ModelVersion
    scores: np.ndarray
    flagged: int
    confusion: Confusion | None = None  # at the review threshold, over the labelled rows
    roc_auc: float | None = None
    average_precision: float | None = None
    roc: list = field(default_factory=list)
    pr: list = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"v{self.version.version} ({self.version.get_status_display().lower()})"


@dataclass
class Comparison:
    candidate: ModelVersion
    active: ModelVersion | None
    threshold: float
    since: datetime | None = None
    until: datetime | None = None
    rows: int = 0
    capped: bool = False
    labelled: int = 0
    fraud: int = 0
    enough_labels: bool = False
    figures: list[Figures] = field(default_factory=list)  # the active version first, then the candidate
    days: list[tuple[str, list[int]]] = field(default_factory=list)  # (day, flags per version)
    disagreements: list[dict] = field(default_factory=list)
    only_active: int = 0  # flagged by the active version alone
    only_candidate: int = 0
    overlaps: list[ModelVersion] = field(default_factory=list)  # versions trained on part of the window
    charts: dict = field(default_factory=dict)


def versions_compare(*, candidate: ModelVersion, active: ModelVersion | None, policy: RiskPolicy) -> Comparison:
    """The candidate beside the active version (or alone, when none is active) on the organisation's recent traffic."""
    comparison = Comparison(candidate=candidate, active=active, threshold=policy.review_threshold)
    frame, targets = _window(comparison, organisation_id=candidate.organisation_id)
    if not targets.any():
        return comparison
    versions = [v for v in (active, candidate) if v is not None]
    rows = None
    for version in versions:
        output = _detector(version).score_frame(frame, targets, reasons=False)
        rows = output.rows
        scores = np.round(output.score.astype(np.float64), 6)
        comparison.figures.append(Figures(version, scores, int(np.sum(scores >= comparison.threshold))))
    labels = frame["label"].to_numpy()[rows]
    _metrics(comparison, labels)
    _per_day(comparison, frame["ts"].to_numpy()[rows])
    _disagreements(comparison, frame, rows, labels)
    comparison.overlaps = [v for v in versions if _overlaps(v, comparison)]
    comparison.charts = _charts(comparison)
    return comparison


def _detector(version: ModelVersion):
    """The active version's detector as scoring holds it; another version's loaded from its artifact."""
    if version.status == ModelVersion.Status.ACTIVE:
        loaded = registry.active_model(organisation_id=version.organisation_id)
        if loaded.version.pk == version.pk:
            return loaded.detector
    return registry.version_detector(version)


def _window(comparison: Comparison, *, organisation_id: int):
    """The frame of the newest COMPARE_MAX_ROWS transactions of the last COMPARE_DAYS days and their lookback, and
    the mask of those transactions."""
    stored = Transaction.objects.filter(source__organisation_id=organisation_id)
    newest = stored.aggregate(newest=Max("timestamp"))["newest"]
    if newest is None:
        return None, np.zeros(0, dtype=bool)
    since = newest - timedelta(days=settings.COMPARE_DAYS)
    recent = stored.filter(timestamp__gte=since).order_by("-timestamp", "-id").values_list("timestamp", flat=True)
    limit = settings.COMPARE_MAX_ROWS
    first = recent[limit - 1 : limit].first()
    comparison.capped = first is not None
    first = first or since
    frame = adapters.frame_for_window(
        organisation_id=organisation_id, since=first - LOOKBACK, until=newest + timedelta(seconds=1)
    )
    ts = frame["ts"].to_numpy()
    targets = ts >= int(first.timestamp())
    if targets.sum() > limit:  # rows sharing the first one's second: keep the newest
        targets[np.flatnonzero(targets)[: int(targets.sum()) - limit]] = False
    comparison.since, comparison.until, comparison.rows = first, newest, int(targets.sum())
    return frame, targets


def _metrics(comparison: Comparison, labels: np.ndarray) -> None:
    known = ~np.isnan(labels)
    y = labels[known].astype(int)
    comparison.labelled, comparison.fraud = int(known.sum()), int(y.sum())
    comparison.enough_labels = comparison.labelled >= settings.COMPARE_MIN_LABELS and both_classes(y)
    for figures in comparison.figures:
        figures.confusion = confusion(y, figures.scores[known], comparison.threshold)
        if comparison.enough_labels:
            found = curves(figures.name, y, figures.scores[known])
            figures.roc_auc, figures.average_precision = found.roc_auc, found.average_precision
            figures.roc, figures.pr = found.roc, found.pr


def _per_day(comparison: Comparison, ts: np.ndarray) -> None:
    days = (ts // 86400).astype(np.int64)
    for day in np.unique(days).tolist():
        on_day = days == day
        counts = [int(np.sum(f.scores[on_day] >= comparison.threshold)) for f in comparison.figures]
        comparison.days.append((datetime.fromtimestamp(day * 86400, tz=UTC).date().isoformat(), counts))


def _disagreements(comparison: Comparison, frame, rows: np.ndarray, labels: np.ndarray) -> None:
    """The transactions one version flags and the other does not, the widest gaps first."""
    if len(comparison.figures) < 2:
        return
    active, candidate = (f.scores for f in comparison.figures)
    flags_active, flags_candidate = active >= comparison.threshold, candidate >= comparison.threshold
    comparison.only_active = int(np.sum(flags_active & ~flags_candidate))
    comparison.only_candidate = int(np.sum(flags_candidate & ~flags_active))
    differ = np.flatnonzero(flags_active != flags_candidate)
    shown = differ[np.argsort(-np.abs(candidate[differ] - active[differ]), kind="stable")][:DISAGREEMENTS_SHOWN]
    pks = frame["row_id"].to_numpy()[rows][shown].tolist()
    stored = Transaction.objects.in_bulk(pks)
    for k, pk in zip(shown.tolist(), pks, strict=True):
        label = labels[k]
        comparison.disagreements.append(
            {
                "transaction": stored.get(pk),
                "pk": pk,
                "active": float(active[k]),
                "candidate": float(candidate[k]),
                "label": None if np.isnan(label) else int(label),
                "flagged_by": "candidate" if flags_candidate[k] else "active",
            }
        )


def _overlaps(version: ModelVersion, comparison: Comparison) -> bool:
    """Whether the version was trained on part of the window: its figures there flatter it."""
    if version.training_end is None or comparison.since is None:
        return False
    return version.training_end >= comparison.since


def _charts(comparison: Comparison) -> dict:
    names = [f.name for f in comparison.figures]
    charts = {
        "flags_svg": bar_chart(
            [day[5:] for day, _ in comparison.days],
            [BarSeries(name, [counts[i] for _, counts in comparison.days]) for i, name in enumerate(names)],
            title=f"Flagged per day at the review threshold ({comparison.threshold:.3f})",
            y_label="Flagged",
            x_label="Day (UTC)",
            width=900,
        )
    }
    if comparison.enough_labels:
        charts["roc_svg"] = line_chart(
            [Series(f.name, f.roc) for f in comparison.figures],
            title="ROC curve",
            x_label="False positive rate",
            y_label="True positive rate",
            diagonal=True,
        )
        charts["pr_svg"] = line_chart(
            [Series(f.name, f.pr, step=True) for f in comparison.figures],
            title="Precision–recall curve",
            x_label="Recall",
            y_label="Precision",
        )
    return charts
