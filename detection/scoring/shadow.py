"""The challenger's scores in shadow: the rows the active version just scored, scored again by the challenger and
stored apart (ShadowScore). Nothing reads them to decide: no decision, review item, alert, rule or webhook.

Called by the scoring services inside their transaction, on the frame they built: the challenger reuses the active
version's features when both were trained on the same feature set (the usual case: retrained versions), so shadow
scoring pays only for its models, never for a second history read.
"""

import numpy as np
import orjson
from django.utils import timezone

from core.bulk_insert import COPY_ABOVE, copy_text, insert_returning
from detection.engine.detector import ScoreOutput
from detection.engine.frame import Frame
from detection.models import ShadowScore
from detection.scoring.registry import LoadedModel
from detection.scoring.timed import TIME, with_transaction_time

_COLUMNS = (
    ("transaction_id", "bigint"),
    ("model_version_id", "bigint"),
    ("champion_id", "bigint"),
    ("score", "float8"),
    ("components", "jsonb"),
    ("created_at", "timestamptz"),
)


def shadow_scores_store(
    *, challenger: LoadedModel, champion: LoadedModel, frame: Frame, targets: np.ndarray, output: ScoreOutput
) -> int:
    """Score the target rows of `frame` (those the champion scored into `output`) with the challenger and store its
    scores; a transaction it scored before keeps its stored score. Returns how many were stored."""
    if output.rows is None or not len(output.rows):
        return 0
    if output.features is not None and challenger.detector.spec == champion.detector.spec:
        shadow = challenger.detector.score_features(output.features.X, reasons=False)
    else:  # another feature set: the challenger's own features of the same rows
        shadow = challenger.detector.score_frame(frame, targets, reasons=False)
    names = list(shadow.components)
    parts = np.round(np.column_stack([shadow.components[n] for n in names]), 6).tolist() if names else []
    values = np.round(shadow.score.astype(np.float64), 6).tolist()
    texts = [orjson.dumps(dict(zip(names, row, strict=True))).decode() for row in parts] if names else []
    texts = texts or ["{}"] * len(values)
    row_ids = frame.row_id[output.rows].tolist()
    now, version_id, champion_id = timezone.now(), challenger.version.pk, champion.version.pk
    insert = {"table": ShadowScore._meta.db_table, "columns": _COLUMNS, **with_transaction_time(_COLUMNS)}
    suffix = f"ON CONFLICT (transaction_id, model_version_id, {TIME}) DO NOTHING RETURNING id"
    if len(row_ids) <= COPY_ABOVE:
        rows = [(tx, version_id, champion_id, v, t, now) for tx, v, t in zip(row_ids, values, texts, strict=True)]
        return len(insert_returning(**insert, rows=rows, suffix=suffix))
    stamp = now.isoformat()
    lines = [
        f"{tx}\t{version_id}\t{champion_id}\t{value!r}\t{copy_text(text)}\t{stamp}\n"
        for tx, value, text in zip(row_ids, values, texts, strict=True)
    ]
    return len(insert_returning(**insert, copy_lines=lines, suffix=suffix))
