"""News of stored scores for the apps above detection (review queues flagged ones, alerts screens them).

Detection may not import those apps, so they subscribe here when Django starts (their `AppConfig.ready`), and
scoring publishes each set of scores it stored, inside the transaction that stored them.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ScoresStored:
    """Scores one call stored (not those a version had stored before) for one organisation, as parallel sequences."""

    organisation_id: int
    transaction_ids: np.ndarray  # primary keys, int64
    score_ids: np.ndarray  # int64
    scores: np.ndarray  # float64
    risk_levels: list[str]
    flagged: np.ndarray  # bool: decided review or block
    amounts: np.ndarray  # the transactions' amounts
    decisions: Sequence[str] = ()  # allow, review or block (empty: not given, as by callers from before decisions)
    rules: Sequence[Sequence[Mapping[str, Any]]] = ()  # per score, the rules that matched ({"id", "name", …})
    labelled: np.ndarray | None = None  # bool: the transaction already had its label when scored (None: none had)
    upload_job_id: int | None = None  # the scoring job of a person's upload these scores are of, if any

    def arrived_labelled(self) -> np.ndarray:
        """Per score, whether its transaction came with its label (never queued for review)."""
        return np.zeros(len(self), dtype=bool) if self.labelled is None else np.asarray(self.labelled, dtype=bool)

    def rule_ids(self, index: int) -> list[int]:
        """The ids of the rules that matched the index-th score (not those it lacked a value for)."""
        return [rule["id"] for rule in self.rules[index] if not rule.get("missing")] if self.rules else []

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
