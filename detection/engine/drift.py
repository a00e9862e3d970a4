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
    reference, values = _present(reference), _present(values)
    if not len(reference) or not len(values):
        return 0.0
    edges, expected = reference_bins(reference, bins=bins)
    return psi_of_shares(expected, shares_in(values, edges))


def reference_bins(reference: np.ndarray, *, bins: int = BINS) -> tuple[np.ndarray, np.ndarray]:
    """The reference's bin edges (its deciles, repeats merged) and its share per bin: what a later batch is measured
    against, small enough to keep per model version."""
    reference = _present(reference)
    if not len(reference):
        return np.empty(0), np.ones(1)
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    return edges, shares_in(reference, edges)


def shares_in(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of values per bin: (-inf, e0], (e0, e1], ..., (e_last, inf); zeros when there is no value."""
    values = _present(values)
    counts = np.bincount(
        np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="left"), minlength=len(edges) + 1
    )
    return counts / len(values) if len(values) else counts.astype(np.float64)


def psi_of_shares(expected, actual) -> float:
    """The index from two share vectors over the same bins (empty bins count as FLOOR)."""
    expected = np.maximum(np.asarray(expected, dtype=np.float64), FLOOR)
    actual = np.maximum(np.asarray(actual, dtype=np.float64), FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _present(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return values[~np.isnan(values)]


def features_psi(reference: np.ndarray, X: np.ndarray, names: list[str]) -> dict[str, float]:
    """PSI of each feature (a column of X, named) against the same column of the reference sample."""
    return {name: psi(reference[:, j], X[:, j]) for j, name in enumerate(names)}
