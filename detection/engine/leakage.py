"""Columns that give the label away: offered as features, they would let a model read the answer.

A column leaks when, alone, it ranks the labelled rows by their label nearly perfectly: a single-column ROC AUC of at
least LEAK_AUC (either direction). A column of few distinct values (a category, a flag, a code such as an anomaly
type) is scored by each value's share of frauds, so a relabelling of the label (`anomaly_type` 1-4 for frauds, 0
otherwise) scores 1.0; a numeric column of many values is scored by its value. Text of many distinct values (ids,
free text) is not judged: no single-column rule can tell an id from a leak.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

LEAK_AUC = 0.95
MAX_CATEGORIES = 50  # at most this many distinct values: judged as categories
ROWS_PER_CATEGORY = 20  # and no more categories than one per this many labelled rows (a small sample overfits)
MIN_PER_CLASS = 5  # fewer frauds or fewer legitimate rows than this: nothing can be judged
NUMERIC_SHARE = 0.9  # a column is numeric when this share of its non-empty values parse as numbers


@dataclass(frozen=True)
class Leak:
    column: str
    auc: float  # the column's single-column ROC AUC against the label, in its better direction
    rows: int  # the labelled rows it was measured on
    relabelling: bool  # judged by its values as categories (a relabelling of the label) rather than as a number

    def describe(self, label: str) -> str:
        """Why the column is refused, naming it and the label."""
        kind = "its values are a relabelling of the label" if self.relabelling else "its value alone ranks the frauds"
        return (
            f"Column {self.column!r} predicts the label {label!r} almost perfectly ({kind}: ROC AUC {self.auc:.3f} on "
            f"{self.rows:,} labelled rows); it gives the answer away and cannot be a feature."
        )


def labels_binary(values) -> np.ndarray:
    """The label column as floats: 1.0 fraud, 0.0 legitimate, NaN when the row has no usable label."""
    series = pd.Series(values)
    if series.dtype == bool:
        series = series.astype(float)
    text = series.astype("string").str.strip().str.lower()
    words = text.map({"true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0, "fraud": 1.0, "legitimate": 0.0})
    numbers = pd.to_numeric(series, errors="coerce").astype(float)
    labels = numbers.where(numbers.notna(), words.astype(float)).to_numpy(dtype=float, copy=True)
    labels[~np.isin(labels, (0.0, 1.0))] = np.nan
    return labels


def label_leaks(columns: Mapping[str, object], label, *, threshold: float = LEAK_AUC) -> list[Leak]:
    """The columns (name → values, each as long as `label`) that predict the label nearly perfectly, in the order
    given. Nothing is judged when the label has fewer than MIN_PER_CLASS rows of either class."""
    y = labels_binary(label)
    known = ~np.isnan(y)
    y = y[known]
    if min(int(y.sum()), int(len(y) - y.sum())) < MIN_PER_CLASS:
        return []
    leaks = []
    for name, values in columns.items():
        judged = column_auc(pd.Series(values)[known].reset_index(drop=True), y)
        if judged is not None and judged[0] >= threshold:
            leaks.append(Leak(column=name, auc=round(judged[0], 4), rows=len(y), relabelling=judged[1]))
    return leaks


def column_auc(values: pd.Series, y: np.ndarray) -> tuple[float, bool] | None:
    """The column's ROC AUC against the labels y (better direction) and whether it was judged as categories; None
    when it cannot be judged (text of many distinct values)."""
    distinct = values.nunique(dropna=False)
    if distinct <= min(MAX_CATEGORIES, max(2, len(y) // ROWS_PER_CATEGORY)):
        keys = values.astype("string").fillna("\0missing")
        share = pd.Series(y).groupby(keys.to_numpy()).transform("mean").to_numpy()
        return _auc(y, share), True
    numbers = pd.to_numeric(values, errors="coerce")
    present = values.notna() & (values.astype("string").str.strip() != "")
    if not present.any() or numbers[present].notna().mean() < NUMERIC_SHARE:
        return None
    filled = numbers.fillna(numbers.median() if numbers.notna().any() else 0.0).to_numpy(dtype=float)
    return _auc(y, filled), False


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    auc = float(roc_auc_score(y, score))
    return max(auc, 1.0 - auc)
