"""The stored history a test on history runs over: an organisation's transactions of a time window as the engine's
frame (with the account's and merchant's history before it when the rule reads computed features), and the stored
score of each (newest first) instead of scoring them again.

Frames are built by detection.scoring.adapters (as training and backtests read stored rows), so a rule reads on
history exactly the columns it reads when it decides at scoring time.
"""

import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.db import connection

from detection.engine.detector import ScoreOutput
from detection.engine.features import ACCOUNT_LOOKBACK_SECONDS, MERCHANT_LOOKBACK_SECONDS
from detection.scoring.adapters import frame_for_window, organisation_source_ids

LOOKBACK = timedelta(seconds=max(ACCOUNT_LOOKBACK_SECONDS, MERCHANT_LOOKBACK_SECONDS))

# The newest stored score of every transaction of the window. Components (each detector's score) only when read.
_SCORES_SQL = """
SELECT DISTINCT ON (t.id) t.id, s.score, s.risk_level, {components}
FROM transactions_transaction t
JOIN detection_score s ON s.transaction_id = t.id AND s.transaction_time = t.timestamp
WHERE t.source_id = ANY(%s) AND t.timestamp >= %s AND t.timestamp < %s
ORDER BY t.id, s.id DESC
"""


def window_count(*, organisation_id: int, since: datetime, until: datetime) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM transactions_transaction WHERE source_id = ANY(%s) AND timestamp >= %s "
            "AND timestamp < %s",
            [organisation_source_ids(organisation_id), since, until],
        )
        return cursor.fetchone()[0]


def window_frame(
    *, organisation_id: int, since: datetime, until: datetime, with_history: bool, stored: tuple[str, ...] = ()
) -> pd.DataFrame:
    """The window's transactions oldest first, with the lookback's before them when features are computed (the
    window's own rows are those with `ts` from `since`); `stored`: stored fields the engine's frame lacks (device,
    currency) to read too."""
    start = since - LOOKBACK if with_history else since
    return frame_for_window(organisation_id=organisation_id, since=start, until=until, stored=stored)


@dataclass(frozen=True)
class StoredScores:
    """The stored scores of some rows (NaN and "" where a row was never scored), as the deciding path's output."""

    score: np.ndarray
    risk_level: np.ndarray
    components: dict[str, np.ndarray]

    def output(self, features) -> ScoreOutput:
        return ScoreOutput(score=self.score, components=self.components, features=features)


# The transactions of the window whose newest stored score is at or above a threshold (the model's flags).
_FLAGGED_SQL = """
SELECT t.id FROM transactions_transaction t
JOIN detection_score s ON s.transaction_id = t.id AND s.transaction_time = t.timestamp
WHERE t.source_id = ANY(%s) AND t.timestamp >= %s AND t.timestamp < %s AND s.score >= %s
  AND NOT EXISTS (
    SELECT 1 FROM detection_score n WHERE n.transaction_id = t.id AND n.transaction_time = t.timestamp AND n.id > s.id
  )
"""


def flagged_scores(
    *, organisation_id: int, since: datetime, until: datetime, row_ids: np.ndarray, threshold: float
) -> StoredScores:
    """Stand-ins for the stored scores when a rule does not read them: 1 where the newest stored score is at or
    above `threshold`, NaN elsewhere (only the flags are used)."""
    with connection.cursor() as cursor:
        cursor.execute(_FLAGGED_SQL, [organisation_source_ids(organisation_id), since, until, threshold])
        flagged = np.fromiter((row[0] for row in cursor.fetchall()), dtype=np.int64)
    score = np.where(np.isin(row_ids, flagged), 1.0, np.nan)
    return StoredScores(score=score, risk_level=np.full(len(row_ids), None, dtype=object), components={})


def stored_scores(
    *, organisation_id: int, since: datetime, until: datetime, row_ids: np.ndarray, with_components: bool
) -> StoredScores:
    """Each row's newest stored score, aligned with `row_ids` (the window's transactions, in frame order)."""
    components_sql = "s.components::text" if with_components else "''"
    sql = _SCORES_SQL.format(components=components_sql)
    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        params = [organisation_source_ids(organisation_id), since, until]
        with cursor.cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy:
            for block in copy:
                buffer.write(block)
    buffer.seek(0)
    table = pd.read_csv(
        buffer,
        header=None,
        names=["id", "score", "risk_level", "components"],
        dtype={"id": np.int64, "score": np.float64, "risk_level": str, "components": str},
        keep_default_na=False,
        na_values={"score": [""]},
    )
    ids = table["id"].to_numpy()
    position = np.searchsorted(ids, row_ids)  # DISTINCT ON (t.id) orders by id
    found = (
        (position < len(ids)) & (ids[np.minimum(position, max(len(ids) - 1, 0))] == row_ids)
        if len(ids)
        else (np.zeros(len(row_ids), dtype=bool))
    )
    where = position[found]
    score = np.full(len(row_ids), np.nan)
    score[found] = table["score"].to_numpy()[where]
    risk = np.full(len(row_ids), None, dtype=object)
    risk[found] = table["risk_level"].to_numpy()[where]
    components: dict[str, np.ndarray] = {}
    if with_components:
        parsed = [json.loads(text) if text else {} for text in table["components"].to_numpy()[where]]
        for name in sorted({key for item in parsed for key in item}):
            values = np.full(len(row_ids), np.nan)
            values[found] = [item.get(name, np.nan) for item in parsed]
            components[name] = values
    return StoredScores(score=score, risk_level=risk, components=components)
