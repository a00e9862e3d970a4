"""How far a batch's features lie from a model's training sample: the population stability index per feature.

PSI = sum over bins of (batch share - reference share) * ln(batch share / reference share), the bins being the
reference's deciles (fewer where its values repeat: a flag has two). Below 0.1 the two look alike; from 0.25 the
usual reading is a shift large enough that a model's scores may not mean what they meant on its training data.
"""

from __future__ import annotations

import numpy as np

BINS = 10
FLOOR = 1e-4  # a share of 0 would make the index infinite: empty bins count as this share


def psi(reference: np.ndarray, values: np.ndarray, *, bins: int = BINS) -> float:
    """The population stability index of `values` against `reference` (1-d arrays; NaN left out)."""
    reference = np.asarray(reference, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    reference, values = reference[~np.isnan(reference)], values[~np.isnan(values)]
    if not len(reference) or not len(values):
        return 0.0
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    expected = _shares(reference, edges)
    actual = _shares(values, edges)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of values per bin: (-inf, e0], (e0, e1], ..., (e_last, inf)."""
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
    return np.maximum(counts / len(values), FLOOR)


def features_psi(reference: np.ndarray, X: np.ndarray, names: list[str]) -> dict[str, float]:
    """PSI of each feature (a column of X, named) against the same column of the reference sample."""
    return {name: psi(reference[:, j], X[:, j]) for j, name in enumerate(names)}
