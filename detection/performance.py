"""Numbers behind the model-performance page, from plain arrays: curves, areas, confusion counts, flag volumes.

No Django here: selectors hand over arrays, this module computes, views and charts draw.
"""

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

MAX_CURVE_POINTS = 200


@dataclass(frozen=True)
class Curves:
    """ROC and precision-recall curves of one score column, thinned for drawing, with their areas."""

    name: str
    roc: list[tuple[float, float]]  # (false positive rate, true positive rate)
    pr: list[tuple[float, float]]  # (recall, precision), recall ascending
    roc_auc: float
    average_precision: float


@dataclass(frozen=True)
class Confusion:
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def flagged(self) -> int:
        return self.tp + self.fp

    @property
    def total(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float | None:
        return self.tp / self.flagged if self.flagged else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def false_positive_rate(self) -> float | None:
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else None


def thin(points: list[tuple[float, float]], max_points: int = MAX_CURVE_POINTS) -> list[tuple[float, float]]:
    """At most max_points of a curve, evenly spaced by index, always keeping the first and the last."""
    if len(points) <= max_points:
        return points
    keep = np.unique(np.linspace(0, len(points) - 1, max_points).round().astype(int))
    return [points[i] for i in keep]


def both_classes(labels: np.ndarray) -> bool:
    return bool(labels.size) and 0 < int(labels.sum()) < labels.size


def curves(name: str, labels: np.ndarray, scores: np.ndarray, *, max_points: int = MAX_CURVE_POINTS) -> Curves:
    """ROC and PR of one score column; the labels must hold both classes (see both_classes)."""
    fpr, tpr, _ = roc_curve(labels, scores)
    precision, recall, _ = precision_recall_curve(labels, scores)
    pr = list(zip(recall[::-1].tolist(), precision[::-1].tolist(), strict=True))
    return Curves(
        name=name,
        roc=thin(list(zip(fpr.tolist(), tpr.tolist(), strict=True)), max_points),
        pr=thin(pr, max_points),
        roc_auc=float(roc_auc_score(labels, scores)),
        average_precision=float(average_precision_score(labels, scores)),
    )


def confusion(labels: np.ndarray, scores: np.ndarray, threshold: float) -> Confusion:
    """Counts at `threshold`: a score at or above it is flagged, as in RiskPolicy.is_flagged."""
    flagged = scores >= threshold
    fraud = labels == 1
    return Confusion(
        tp=int(np.sum(flagged & fraud)),
        fp=int(np.sum(flagged & ~fraud)),
        fn=int(np.sum(~flagged & fraud)),
        tn=int(np.sum(~flagged & ~fraud)),
    )


def flagged_above(histogram: np.ndarray) -> np.ndarray:
    """From counts per score bucket (bucket k holds scores in [k/B, (k+1)/B)), the count at or above each edge."""
    return np.cumsum(histogram[::-1])[::-1]
