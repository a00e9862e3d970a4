"""Writes of scoring: stored transactions scored by the active model version, their scores stored."""

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import orjson
from django.db import transaction
from django.utils import timezone

from core.bulk_insert import COPY_ABOVE, copy_text, insert_new_returning, insert_returning
from detection.engine.detector import ScoreOutput
from detection.engine.frame import Frame
from detection.models import Score
from detection.policy.selectors import risk_policy_current
from detection.scoring import adapters, registry
from detection.scoring.adapters import StoredRows
from detection.scoring.deciding import ScoredBatch, scores_decide
from detection.scoring.events import ScoresStored, scores_stored_publish
from detection.scoring.registry import ModelUnloadable, NoActiveModel
from detection.scoring.shadow import shadow_scores_store
from detection.scoring.timed import TIME, with_transaction_time
from transactions.models import Transaction

logger = logging.getLogger(__name__)

__all__ = [
    "ModelUnloadable",
    "NoActiveModel",
    "StoredRows",
    "score_stored",
    "score_transactions",
    "transaction_latest_score",
]


def transaction_latest_score(transaction_row: Transaction) -> Score | None:
    return (
        Score.objects.select_related("model_version")
        .filter(transaction=transaction_row, transaction_time=transaction_row.timestamp)  # one month's partition
        .order_by("-created_at", "-id")
        .first()
    )


@transaction.atomic(savepoint=False)
def score_transactions(*, transactions: Sequence[Transaction]) -> list[Score]:
    """Score stored transactions of one organisation with its active model; flagged ones enter review, alerts
    follow the commit. The organisation's challenger, if any, scores them too, in shadow (detection.scoring.shadow).

    A transaction already scored by the active version keeps its stored score (the insert skips it and the
    stored row is returned). Returns one Score per input, in input order.
    """
    if not transactions:
        return []
    organisation_id = _organisation_of_transactions(transactions)
    loaded, challenger = registry.models_in_force(organisation_id=organisation_id)
    unique = list({t.pk: t for t in transactions}.values())
    computed = _scores_compute(unique, loaded, organisation_id, challenger)
    created = _scores_insert(computed)
    by_transaction = {s.transaction_id: s for s in created}
    missing = [t.pk for t in unique if t.pk not in by_transaction]
    if missing:
        stored = Score.objects.filter(transaction_id__in=missing, model_version=loaded.version)
        by_transaction |= {s.transaction_id: s for s in stored}
    for score in by_transaction.values():
        score.model_version = loaded.version
    if created:
        scores_stored_publish(
            ScoresStored(
                organisation_id=organisation_id,
                transaction_ids=np.array([s.transaction_id for s in created], dtype=np.int64),
                score_ids=np.array([s.pk for s in created], dtype=np.int64),
                scores=np.array([s.score for s in created], dtype=np.float64),
                risk_levels=[s.risk_level for s in created],
                flagged=np.array([s.is_anomaly for s in created], dtype=bool),
                amounts=np.array([s.transaction.amount for s in created], dtype=object),
                decisions=[s.decision for s in created],
                rules=[s.rules for s in created],
                labelled=np.array([s.transaction.label is not None for s in created], dtype=bool),
            )
        )
    return [by_transaction[t.pk] for t in transactions]


def _organisation_of_transactions(transactions: Sequence[Transaction]) -> int:
    organisations = {adapters.organisation_of(source_id=t.source_id) for t in transactions}
    if len(organisations) != 1:
        raise ValueError("Transactions of several organisations are scored apart, one organisation at a time.")
    return organisations.pop()


def _scores_compute(
    todo: Sequence[Transaction], loaded: registry.LoadedModel, organisation_id: int, challenger=None
) -> list[Score]:
    columns, targets = adapters.frame_for_transactions(todo, organisation_id=organisation_id)
    computed = _Computed.of(loaded.detector, columns, targets, organisation_id=organisation_id)
    computed.shadow(challenger, loaded, targets)
    by_pk = {t.pk: t for t in todo}
    return [
        Score(
            transaction=by_pk[row_id],
            model_version=loaded.version,
            score=value,
            risk_level=level,
            is_anomaly=flag,
            components=parts,
            reasons=why,
            decision=decision,
            rules=matched,
        )
        for row_id, value, level, flag, parts, why, decision, matched in computed.rows()
    ]


@dataclass(frozen=True)
class _Computed:
    """What a score row stores, column by column, for the target rows of a scored frame (in frame order)."""

    row_ids: list[int]
    values: list[float]
    levels: list[str]
    flagged: list[bool]
    component_names: list[str]
    component_values: list[list[float]]  # per row, in the order of component_names
    reasons: list[list[str]]
    decisions: list[str]
    rules: list[list[dict]]  # per row, the matched rules as stored
    frame: Frame | None = None  # what was scored, for the challenger's shadow scores
    output: ScoreOutput | None = None

    @classmethod
    def of(cls, detector, columns: dict, targets: np.ndarray, *, organisation_id: int) -> "_Computed":
        """Score the target rows of `columns` (a frame's columns), then decide them (detection.scoring.deciding)."""
        frame = Frame.of(columns)  # once, for the detector and the decider alike
        output = detector.score_frame(frame, targets)
        policy = risk_policy_current(organisation_id=organisation_id)
        values = [round(value, 6) for value in output.score.astype(np.float64).tolist()]
        levels = [policy.risk_level(value) for value in values]
        decided = scores_decide(
            ScoredBatch(
                organisation_id=organisation_id,
                frame=frame,
                columns=columns,
                output=output,
                scores=np.asarray(values, dtype=np.float64),
                risk_levels=levels,
                model_decisions=[policy.model_decision(value) for value in values],
            )
        )
        names = list(output.components)
        parts = np.round(np.column_stack([output.components[n] for n in names]), 6).tolist() if names else []
        return cls(
            row_ids=frame.row_id[output.rows].tolist(),
            values=values,
            levels=levels,
            flagged=decided.flagged,
            component_names=names,
            component_values=parts if names else [[] for _ in values],
            reasons=[[*why] for why in output.reasons],  # worded when read: read once
            decisions=[str(decision) for decision in decided.decisions],
            rules=decided.rules,
            frame=frame,
            output=output,
        )

    def shadow(self, challenger: registry.LoadedModel | None, champion: registry.LoadedModel, targets) -> None:
        """The challenger's scores of the same rows, stored apart (nothing when the organisation has none)."""
        if challenger is not None:
            shadow_scores_store(
                challenger=challenger, champion=champion, frame=self.frame, targets=targets, output=self.output
            )

    def components(self) -> list[dict[str, float]]:
        return [dict(zip(self.component_names, row, strict=True)) for row in self.component_values]

    def components_json(self) -> list[str]:
        """Each row's components as JSON text, by orjson: cheaper than formatting each row's text in Python."""
        names = self.component_names
        return [orjson.dumps(dict(zip(names, row, strict=True))).decode() for row in self.component_values]

    def rows(self):
        columns = self.row_ids, self.values, self.levels, self.flagged, self.components(), self.reasons
        return zip(*columns, self.decisions, self.rules, strict=True)


def _score_row(transaction_id, version_id, value, level, flag, components, reasons, decision, rules, now) -> tuple:
    """One row of _SCORE_COLUMNS."""
    return (
        transaction_id,
        version_id,
        value,
        level,
        flag,
        json.dumps(components),
        json.dumps(reasons),
        decision,
        json.dumps(rules),
        now,
    )


def _score_copy_lines(computed: _Computed, version_id: int, now: datetime) -> list[str]:
    """The rows of _SCORE_COLUMNS in COPY's text format, one line each: for large sets, where formatting every
    row's JSON by dict and json.dumps, then psycopg's per-row writer, cost more than the scoring's models.

    COPY's text format escapes backslashes (and control characters, which orjson never leaves raw); risk levels
    are fixed words, numbers are written shortest (Python's repr, orjson's), which JSON and PostgreSQL both read
    back exactly.
    """
    stamp = now.isoformat()
    reasons = [copy_text(orjson.dumps(why).decode()) if why else "[]" for why in computed.reasons]
    parts = [copy_text(text) for text in computed.components_json()]
    rules = [copy_text(orjson.dumps(matched).decode()) if matched else "[]" for matched in computed.rules]
    columns = computed.row_ids, computed.values, computed.levels, computed.flagged, parts
    rows = zip(*columns, reasons, computed.decisions, rules, strict=True)
    return [
        f"{tx}\t{version_id}\t{value!r}\t{level}\t{'t' if flag else 'f'}\t{parts}\t{why}\t{decision}\t{matched}\t"
        f"{stamp}\n"
        for tx, value, level, flag, parts, why, decision, matched in rows
    ]


_SCORE_COLUMNS = (
    ("transaction_id", "bigint"),
    ("model_version_id", "bigint"),
    ("score", "float8"),
    ("risk_level", "text"),
    ("is_anomaly", "bool"),
    ("components", "jsonb"),
    ("reasons", "jsonb"),
    ("decision", "text"),
    ("rules", "jsonb"),
    ("created_at", "timestamptz"),
)


def _scores_insert(scores: list[Score]) -> list[Score]:
    """Store new scores in one statement; returns those inserted, with their ids (a transaction this version scored
    before keeps its stored row)."""
    if not scores:
        return []
    now = timezone.now()
    rows = [
        _score_row(
            s.transaction_id,
            s.model_version_id,
            s.score,
            s.risk_level,
            s.is_anomaly,
            s.components,
            s.reasons,
            s.decision,
            s.rules,
            now,
        )
        for s in scores
    ]
    ids = _score_rows_insert(rows)
    created = []
    for score in scores:
        if score.transaction_id in ids:
            score.pk, score.created_at = ids[score.transaction_id], now
            score.transaction_time = score.transaction.timestamp  # what the INSERT took from its key
            score._state.adding = False
            created.append(score)
    return created


def _score_rows_insert(rows: list[tuple] = (), copy_lines: list[str] = ()) -> dict[int, int]:
    """INSERT rows of _SCORE_COLUMNS (as tuples, or as COPY lines: a large set, of distinct transactions), skipping
    transactions this version scored before: {transaction pk: score id}.

    A large set is usually of transactions just stored (a batch, a job's chunk): it tries a plain INSERT first
    (`insert_new_returning`), without ON CONFLICT's WAL record per row."""
    insert = {"table": Score._meta.db_table, "columns": _SCORE_COLUMNS, "rows": rows, "copy_lines": copy_lines}
    insert |= with_transaction_time(_SCORE_COLUMNS)
    conflict, returning = f"transaction_id, model_version_id, {TIME}", "id, transaction_id"
    if copy_lines:
        returned = insert_new_returning(conflict=conflict, returning=returning, **insert)
    else:
        returned = insert_returning(**insert, suffix=f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {returning}")
    return {transaction_id: pk for pk, transaction_id in returned}


@dataclass(frozen=True)
class StoredScoring:
    scored: int  # transactions of the batch found stored
    flagged: int  # of those, how many are flagged (by the score this version stored for them)
    version: int  # the model version that scored them
    # The scores this call stored, by transaction pk: (score, risk level, flagged, reasons, decision, rules).
    # Transactions this version had scored before are not in it.
    created: dict[int, tuple[float, str, bool, list[str], str, list[dict]]] = field(default_factory=dict)


@transaction.atomic(savepoint=False)
def score_stored(
    *, stored: StoredRows, organisation_id: int | None = None, upload_job_id: int | None = None
) -> StoredScoring:
    """Score stored transactions of one organisation with its active model, given by primary key or by a source and
    the sender's ids (`StoredRows`): for the batch endpoint, streaming and bulk jobs. The organisation's challenger,
    if any, scores them too, in shadow. The organisation is their source's
    or, for primary keys alone, `organisation_id`; rows of another organisation are left out.

    The same features, scores, review items and alerts as `score_transactions`, kept in arrays from the history
    read to the INSERTs (no model instance per row). A transaction this version scored before keeps its score.
    `upload_job_id` names the job of a person's upload the rows are of: the news of their scores says so.
    """
    if stored.known_source_id is not None:
        organisation_id = adapters.organisation_of(source_id=stored.known_source_id)
    if organisation_id is None:
        raise ValueError("score_stored needs the organisation: a source, or organisation_id with primary keys.")
    loaded, challenger = registry.models_in_force(organisation_id=organisation_id)
    frame, targets = adapters.frame_for_stored(stored, organisation_id=organisation_id)
    if not targets.any():
        return StoredScoring(scored=0, flagged=0, version=loaded.version.version)
    computed = _Computed.of(loaded.detector, frame, targets, organisation_id=organisation_id)
    computed.shadow(challenger, loaded, targets)
    now, version_id = timezone.now(), loaded.version.pk
    if len(computed.row_ids) > COPY_ABOVE:
        ids = _score_rows_insert(copy_lines=_score_copy_lines(computed, version_id, now))
    else:
        ids = _score_rows_insert([_score_row(tx, version_id, *rest, now) for tx, *rest in computed.rows()])
    row_ids, flagged = np.asarray(computed.row_ids, dtype=np.int64), np.asarray(computed.flagged, dtype=bool)
    created = np.array([tx in ids for tx in computed.row_ids], dtype=bool)
    score_ids = np.array([ids.get(tx, 0) for tx in computed.row_ids], dtype=np.int64)
    queue = created & flagged
    if created.any():
        scores_stored_publish(
            ScoresStored(
                organisation_id=organisation_id,
                transaction_ids=row_ids[created],
                score_ids=score_ids[created],
                scores=np.asarray(computed.values, dtype=np.float64)[created],
                risk_levels=np.asarray(computed.levels, dtype=object)[created].tolist(),
                flagged=flagged[created],
                amounts=np.asarray(frame["amount"][targets])[created],
                decisions=[d for d, new in zip(computed.decisions, created.tolist(), strict=True) if new],
                rules=[r for r, new in zip(computed.rules, created.tolist(), strict=True) if new],
                labelled=~np.isnan(np.asarray(frame["label"][targets], dtype=np.float64))[created],
                upload_job_id=upload_job_id,
            )
        )
    flagged_count = int(queue.sum())
    if not created.all():  # scored before: count them by the score stored then
        flagged_count += Score.objects.filter(
            transaction_id__in=row_ids[~created].tolist(), model_version=loaded.version, is_anomaly=True
        ).count()
    answer = computed.row_ids, computed.values, computed.levels, computed.flagged, computed.reasons
    rows = zip(*answer, computed.decisions, computed.rules, created.tolist(), strict=True)
    made = {tx: tuple(row) for tx, *row, new in rows if new}
    return StoredScoring(scored=len(row_ids), flagged=flagged_count, version=loaded.version.version, created=made)
