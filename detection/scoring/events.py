"""News of stored scores for the apps above detection (review queues flagged ones, alerts screens them).

Detection may not import those apps, so they subscribe here when Django starts (their `AppConfig.ready`), and
scoring publishes each set of scores it stored, inside the transaction that stored them.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ScoresStored:
    """Scores one call stored (not those a version had stored before) for one organisation, as parallel sequences."""

    organisation_id: int
    transaction_ids: np.ndarray  # primary keys, int64
    score_ids: np.ndarray  # int64
    scores: np.ndarray  # float64
    risk_levels: list[str]
    flagged: np.ndarray  # bool
    amounts: np.ndarray  # the transactions' amounts

    def __len__(self) -> int:
        return len(self.score_ids)


Listener = Callable[[ScoresStored], None]
_listeners: list[Listener] = []


def scores_stored_subscribe(listener: Listener) -> None:
    """Call `listener` with every ScoresStored from now on; subscribing the same function twice has no effect."""
    if listener not in _listeners:
        _listeners.append(listener)


def scores_stored_publish(event: ScoresStored) -> None:
    if len(event):
        for listener in _listeners:
            listener(event)
