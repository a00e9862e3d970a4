"""Which inputs carry information for the data at hand, decided from the training rows alone (never a label).

- An attribute that takes negative values in the training rows is a signed quantity (a score, a difference, a
  principal component of anonymised data): the detectors read it as it is, not on the signed log scale that suits
  counts, amounts and durations, and the tail model reads its distance from the training median, on either side.
- The account-history features (``a_*``) describe each account's earlier transactions. When fewer than half of the
  training rows have any (one transaction per account, or one id shared by most of the traffic) they describe no
  customer, and no detector reads them.
- A component left without any input that varies over the training rows loses its say; the others share it.
"""

from __future__ import annotations

import numpy as np

from detection.engine.frame import Frame
from detection.engine.windows import factorized

HISTORY_PREFIX = "a_"
HISTORY_COUNT = "a_count_30d"  # log1p of the account's transactions in the 30 days before the row
MIN_HISTORY_SUPPORT = 0.5


def signed_attributes(frame: Frame, rows: np.ndarray, attributes: list[str]) -> tuple[str, ...]:
    """The attributes with a negative value in the given rows, read linearly (``FeatureSpec.linear_attributes``)."""
    return tuple(a for a in attributes if a in frame.attrs and np.nanmin(frame.attrs[a][rows], initial=0.0) < 0)


def history_support(account_id: np.ndarray, history_count: np.ndarray) -> float:
    """Share of the rows whose own account has earlier transactions, counting no account that holds half of the
    rows or more (an id shared by most of the traffic is no one customer's history)."""
    if not len(account_id):
        return 0.0
    codes = factorized(account_id)
    counts = np.bincount(codes)
    own = counts[codes] * 2 < len(account_id)
    return float(np.mean((np.asarray(history_count) > 0) & own))


def informative_features(names: list[str], support: float) -> np.ndarray:
    """Per feature, whether the detectors read it: every feature, but account history without support."""
    history = np.array([name.startswith(HISTORY_PREFIX) for name in names], dtype=bool)
    return ~history | (support >= MIN_HISTORY_SUPPORT)


def varying(X: np.ndarray) -> np.ndarray:
    """Per column, whether it takes more than one value."""
    return X.max(axis=0, initial=-np.inf) > X.min(axis=0, initial=np.inf) if len(X) else np.zeros(X.shape[1], bool)


def component_weights(weights: dict[str, float], inputs: dict[str, int]) -> dict[str, float]:
    """The weights with every component without an informative input at 0, the others rescaled to the same total."""
    kept = {name: weight for name, weight in weights.items() if inputs.get(name, 0) > 0}
    if not sum(kept.values()):
        return dict(weights)
    scale = sum(weights.values()) / sum(kept.values())
    return {name: kept.get(name, 0.0) * scale for name in weights}
