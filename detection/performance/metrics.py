"""Numbers behind the model-performance page, from plain arrays: curves, areas, confusion counts, flag volumes.

No Django here: selectors hand over arrays, this module (with the engine's metrics) computes, views and charts draw.
"""

from dataclasses import dataclass

import numpy as np

from detection.engine import metrics as engine_metrics

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


def both_classes(labels: np.ndarray) -> bool:
    return bool(labels.size) and 0 < int(labels.sum()) < labels.size


def curves(name: str, labels: np.ndarray, scores: np.ndarray, *, max_points: int = MAX_CURVE_POINTS) -> Curves:
    """ROC and PR of one score column, by the engine's metrics; the labels must hold both classes."""
    points = engine_metrics.curves(labels, scores, points=max_points)
    return Curves(
        name=name,
        roc=[(x, y) for x, y in points["roc"]],
        pr=[(x, y) for x, y in points["pr"]],
        roc_auc=engine_metrics.roc_auc(labels, scores),
        average_precision=engine_metrics.average_precision(labels, scores),
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
