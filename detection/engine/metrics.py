"""Detection metrics: ROC AUC, average precision, precision/recall at the top k%, card precision@k, curves."""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve


def _both_classes(y: np.ndarray) -> bool:
    return len(y) > 0 and 0 < int(np.sum(y)) < len(y)


def roc_auc(y, score) -> float | None:
    y = np.asarray(y)
    return float(roc_auc_score(y, score)) if _both_classes(y) else None


def average_precision(y, score) -> float | None:
    y = np.asarray(y)
    return float(average_precision_score(y, score)) if _both_classes(y) else None


def _top(score: np.ndarray, share: float) -> np.ndarray:
    k = max(1, math.ceil(share * len(score)))
    return np.argsort(-np.asarray(score), kind="stable")[:k]


def precision_at(y, score, share: float) -> float | None:
    """Share of frauds among the top ``share`` of rows by score."""
    y = np.asarray(y)
    return float(y[_top(score, share)].mean()) if len(y) else None


def recall_at(y, score, share: float) -> float | None:
    """Share of all frauds found in the top ``share`` of rows by score."""
    y = np.asarray(y)
    total = int(np.sum(y))
    return float(y[_top(score, share)].sum() / total) if total else None


def card_precision_daily(days, cards, y, score, k: int = 100) -> list[float]:
    """Card precision@k per day, the handbook's way (its step 5).

    Days in order, with an empty set R of detected cards: each day drop the cards in R, give each remaining card
    the maximum of its scores and the maximum of its labels that day, take the k highest-scored cards, count the
    frauds among them over k, and add those true-positive cards to R.
    """
    days, cards, y, score = (np.asarray(v) for v in (days, cards, y, score))
    detected: set = set()
    values = []
    for day in np.unique(days):
        on_day = days == day
        day_cards, day_y, day_score = cards[on_day], y[on_day], score[on_day]
        keep = ~np.isin(day_cards, list(detected)) if detected else np.ones(len(day_cards), bool)
        per_card_score, per_card_y, names = _per_card(day_cards[keep], day_y[keep], day_score[keep])
        top = np.argsort(-per_card_score, kind="stable")[:k]
        values.append(float(per_card_y[top].sum()) / k)
        detected.update(names[top][per_card_y[top] == 1].tolist())
    return values


def _per_card(cards, y, score):
    names, inverse = np.unique(cards, return_inverse=True)
    best_score = np.full(len(names), -np.inf)
    best_y = np.zeros(len(names))
    np.maximum.at(best_score, inverse, score)
    np.maximum.at(best_y, inverse, y)
    return best_score, best_y, names


def card_precision_at_k(days, cards, y, score, k: int = 100) -> float | None:
    values = card_precision_daily(days, cards, y, score, k)
    return float(np.mean(values)) if values else None


def summary(y, score, *, days=None, cards=None, k: int = 100) -> dict:
    """Every figure of the backtest contract for one model."""
    y = np.asarray(y, dtype=np.float64)
    result = {
        "roc_auc": roc_auc(y, score),
        "average_precision": average_precision(y, score),
        "precision_at_1pct": precision_at(y, score, 0.01),
        "recall_at_1pct": recall_at(y, score, 0.01),
        "precision_at_5pct": precision_at(y, score, 0.05),
        "recall_at_5pct": recall_at(y, score, 0.05),
        "card_precision_at_100": None,
    }
    if days is not None and cards is not None and len(y):
        result["card_precision_at_100"] = card_precision_at_k(days, cards, y, score, k)
    return result


def _thin(x: np.ndarray, y: np.ndarray, points: int) -> list[list[float]]:
    if len(x) > points:
        keep = np.unique(np.linspace(0, len(x) - 1, points).round().astype(int))
        x, y = x[keep], y[keep]
    return [[round(float(a), 5), round(float(b), 5)] for a, b in zip(x, y, strict=True)]


def curves(y, score, *, points: int = 200) -> dict:
    """ROC (false positive rate, true positive rate) and PR (recall, precision) points, thinned for charts."""
    y = np.asarray(y)
    if not _both_classes(y):
        return {"roc": [], "pr": []}
    fpr, tpr, _ = roc_curve(y, score)
    precision, recall, _ = precision_recall_curve(y, score)
    return {"roc": _thin(fpr, tpr, points), "pr": _thin(recall[::-1], precision[::-1], points)}
