"""The model-performance page's sections: selector reads turned into figures, charts and their tables."""

import math
from dataclasses import dataclass

import numpy as np
from django.conf import settings

from detection.charts import BarSeries, Series, bar_chart, line_chart
from detection.models import ModelVersion, RiskPolicy
from detection.performance import selectors
from detection.performance.metrics import both_classes, curves, flagged_above

ROC_GRID = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
RECALL_GRID = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
ENSEMBLE = "ensemble"
TRAFFIC_KEYS = ("scored", "flagged", "flagged_now", "medium", "high", "critical")


@dataclass(frozen=True)
class DayRow:
    day: str
    scored: int
    flagged: int
    alerts: int
    review_fraud: int
    review_legitimate: int
    other_fraud: int
    other_legitimate: int

    @property
    def decided(self) -> int:
        return self.review_fraud + self.review_legitimate + self.other_fraud + self.other_legitimate

    @property
    def precision(self) -> float | None:
        return (self.review_fraud + self.other_fraud) / self.decided if self.decided else None


def quality_section(version: ModelVersion, policy: RiskPolicy) -> dict:
    """Curves, areas and the confusion matrix at the review threshold, from the labelled scores of `version`."""
    labelled = selectors.labelled_scores(version=version)
    section = {
        "labelled": labelled,
        "confusion": selectors.labelled_confusion(version=version, threshold=policy.review_threshold),
        "curves": [],
        "capped": labelled.count >= selectors.MAX_LABELLED_ROWS,
        # Below this many labels the areas and precision say more about chance than the model: none are shown.
        "min_labels": settings.PERFORMANCE_MIN_LABELS,
        "too_few": labelled.count < settings.PERFORMANCE_MIN_LABELS,
    }
    if section["too_few"] or not both_classes(labelled.labels):
        return section
    found = [curves(ENSEMBLE, labelled.labels, labelled.scores)]
    for name, values in labelled.components.items():
        known = np.isfinite(values)
        if both_classes(labelled.labels[known]):
            found.append(curves(name, labelled.labels[known], values[known]))
    prevalence = labelled.fraud / labelled.count
    section |= {
        "curves": found,
        "roc_svg": line_chart(
            [Series(c.name, c.roc) for c in found],
            title="ROC curve",
            x_label="False positive rate",
            y_label="True positive rate",
            diagonal=True,
        ),
        "pr_svg": line_chart(
            [Series(c.name, c.pr, step=True) for c in found]
            + [Series("chance", [(0.0, prevalence), (1.0, prevalence)], color="#98a2b3", dashed=True)],
            title="Precision–recall curve",
            x_label="Recall",
            y_label="Precision",
        ),
        "roc_table": [(fpr, [_tpr_at(c.roc, fpr) for c in found]) for fpr in ROC_GRID],
        "pr_table": [(recall, [_precision_at(c.pr, recall) for c in found]) for recall in RECALL_GRID],
    }
    return section


def _tpr_at(roc: list[tuple[float, float]], fpr: float) -> float:
    """The best true positive rate reachable at a false positive rate of at most `fpr`."""
    return max((t for f, t in roc if f <= fpr + 1e-12), default=0.0)


def _precision_at(pr: list[tuple[float, float]], recall: float) -> float:
    """Interpolated precision: the best precision at a recall of at least `recall`."""
    return max((p for r, p in pr if r >= recall - 1e-12), default=0.0)


def daily_section(
    version: ModelVersion | None, *, organisation_id: int, days: int = selectors.PERFORMANCE_DAYS
) -> dict:
    """Per day over the last `days`: the organisation's scored, flagged and alerted volumes, and the known outcomes
    of its flagged transactions."""
    since = selectors.window_start(days)
    volume = selectors.score_volume_by_day(version=version, since=since) if version else {}
    alerts = selectors.alerts_by_day(organisation_id=organisation_id, since=since)
    outcomes = selectors.flagged_outcomes_by_day(organisation_id=organisation_id, since=since)
    empty_outcome = {"review_fraud": 0, "review_legitimate": 0, "other_fraud": 0, "other_legitimate": 0}
    rows = [
        DayRow(
            day=day.isoformat(),
            scored=volume.get(day, {}).get("scored", 0),
            flagged=volume.get(day, {}).get("flagged", 0),
            alerts=alerts.get(day, 0),
            **outcomes.get(day, empty_outcome),
        )
        for day in selectors.day_range(since, days)
    ]
    labels = [r.day[5:] for r in rows]
    return {
        "days": days,
        "rows": rows,
        "any_outcome": any(r.decided for r in rows),
        "precision_svg": bar_chart(
            labels,
            [BarSeries("share judged fraud", [r.precision for r in rows], color="#2e7d32")],
            title="Precision of flagged transactions, per day",
            y_label="Share fraud",
            x_label="Day the outcome became known (UTC)",
            y_format="{:.0%}",
            y_max=1.0,
        ),
        "volume_svg": bar_chart(
            labels,
            [BarSeries("flagged", [r.flagged for r in rows]), BarSeries("alerts", [r.alerts for r in rows])],
            title="Flags and alerts per day",
            y_label="Transactions",
            x_label="Day (UTC)",
            width=1300,
            height=300,
        ),
    }


def explorer_section(*, version: ModelVersion | None, values: dict, policy: RiskPolicy) -> dict:
    """What a threshold would do, from the recent traffic of `version` and its known labels."""
    window = values.get("window") or 7
    threshold = values["review_threshold"]
    bands = (values["medium"], values["high"], values["critical"])
    section = {"version": version, "window": window, "threshold": threshold, "current": policy.review_threshold}
    if version is None:
        return section
    since = selectors.window_start(window)
    days = selectors.traffic_by_day(
        version=version, since=since, threshold=threshold, current=policy.review_threshold, bands=bands
    )
    totals = {key: sum(d[key] for d in days) for key in TRAFFIC_KEYS}
    n_days = len(days)
    section |= {
        "days": days,
        "days_with_traffic": n_days,
        "totals": totals,
        "per_day": {key: value / n_days for key, value in totals.items()} if n_days else {},
        "share_flagged": totals["flagged"] / totals["scored"] if totals["scored"] else None,
        "confusion": selectors.labelled_confusion(version=version, threshold=threshold),
    }
    if n_days:
        section |= _flag_curve(version=version, since=since, n_days=n_days, threshold=threshold, current=policy)
    return section


def _flag_curve(*, version: ModelVersion, since, n_days: int, threshold: float, current: RiskPolicy) -> dict:
    histogram = selectors.score_histogram(version=version, since=since)
    buckets = len(histogram)
    above = flagged_above(histogram)
    # Show from 0.5 up, or from a little below the lower of the two thresholds when that is under 0.55.
    low = max(0.0, min(0.5, math.floor((min(threshold, current.review_threshold) - 0.05) * 10) / 10))
    points = [(k / buckets, above[k] / n_days) for k in range(buckets) if k / buckets >= low - 1e-9]
    step = max(1, buckets // 20)
    table = [(k / buckets, above[k] / n_days) for k in range(0, buckets, step) if k / buckets >= low - 1e-9]
    return {
        "curve_svg": line_chart(
            [Series("flagged per day", points)],
            title="Flagged per day at each threshold",
            x_label="Review threshold",
            y_label="Flagged / day",
            x_range=(low, 1.0),
            y_range=None,
            x_format="{:.2f}",
            y_format="{:,.0f}",
            markers=[(threshold, "new"), (current.review_threshold, "now")]
            if threshold != current.review_threshold
            else [(threshold, "now")],
            width=880,
            height=360,
        ),
        "curve_table": table,
    }
