"""Writes of the detection app: scoring stored transactions, training and activating model versions."""

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from alerts.audit import audit_record
from alerts.selectors import alert_rules_may_match, alert_rules_screen, risk_policy_current
from alerts.services import alerts_evaluate_for_scores
from anomaly_site.bulk_insert import COPY_ABOVE, copy_text, insert_new_returning, insert_returning
from detection import adapters, registry
from detection.engine.detector import ARTIFACT_FORMAT, ArtifactError, Detector
from detection.engine.features import ACCOUNT_LOOKBACK_SECONDS, MERCHANT_LOOKBACK_SECONDS
from detection.models import ModelVersion, Score
from detection.registry import ModelUnloadable, NoActiveModel
from review.services import review_items_create_for_scores, review_items_queue
from transactions.models import Transaction

logger = logging.getLogger(__name__)
# Training loads this much history before its first row, so that its features see the histories scoring sees.
TRAINING_HISTORY_SECONDS = max(ACCOUNT_LOOKBACK_SECONDS, MERCHANT_LOOKBACK_SECONDS)

__all__ = [
    "ModelUnloadable",
    "NoActiveModel",
    "model_version_activate",
    "model_version_train",
    "score_transactions",
    "transaction_latest_score",
]


def transaction_latest_score(transaction_row: Transaction) -> Score | None:
    return (
        Score.objects.select_related("model_version")
        .filter(transaction=transaction_row)
        .order_by("-created_at", "-id")
        .first()
    )


@transaction.atomic(savepoint=False)
def score_transactions(*, transactions: Sequence[Transaction]) -> list[Score]:
    """Score stored transactions with the active model; flagged ones enter review, alerts follow the commit.

    A transaction already scored by the active version keeps its stored score (the insert skips it and the
    stored row is returned). Returns one Score per input, in input order.
    """
    if not transactions:
        return []
    loaded = registry.active_model()
    unique = list({t.pk: t for t in transactions}.values())
    computed = _scores_compute(unique, loaded)
    created = _scores_insert(computed)
    by_transaction = {s.transaction_id: s for s in created}
    missing = [t.pk for t in unique if t.pk not in by_transaction]
    if missing:
        stored = Score.objects.filter(transaction_id__in=missing, model_version=loaded.version)
        by_transaction |= {s.transaction_id: s for s in stored}
    for score in by_transaction.values():
        score.model_version = loaded.version
    if created:
        flagged = [s for s in created if s.is_anomaly]
        if flagged:
            review_items_create_for_scores(scores=flagged)
        alerts_evaluate_for_scores(score_ids=[s.pk for s in alert_rules_may_match(created)])
    return [by_transaction[t.pk] for t in transactions]


def _scores_compute(todo: Sequence[Transaction], loaded: registry.LoadedModel) -> list[Score]:
    frame, targets = adapters.frame_for_transactions(todo)
    computed = _Computed.of(loaded.detector.score_frame(frame, targets), frame["row_id"][targets])
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
        )
        for row_id, value, level, flag, parts, why in computed.rows()
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

    @classmethod
    def of(cls, output, row_ids: np.ndarray) -> "_Computed":
        policy = risk_policy_current()
        values = [round(value, 6) for value in output.score.astype(np.float64).tolist()]
        names = list(output.components)
        parts = np.round(np.column_stack([output.components[n] for n in names]), 6).tolist() if names else []
        return cls(
            row_ids=row_ids.tolist(),
            values=values,
            levels=[policy.risk_level(value) for value in values],
            flagged=[policy.is_flagged(value) for value in values],
            component_names=names,
            component_values=parts if names else [[] for _ in values],
            reasons=[[*why] for why in output.reasons],  # worded when read: read once
        )

    def components(self) -> list[dict[str, float]]:
        return [dict(zip(self.component_names, row, strict=True)) for row in self.component_values]

    def components_json(self) -> list[str]:
        """Each row's components as JSON text, by orjson (1,000 rows: 0.7 ms; a format per row, 1.4 ms)."""
        names = self.component_names
        return [orjson.dumps(dict(zip(names, row, strict=True))).decode() for row in self.component_values]

    def rows(self):
        return zip(self.row_ids, self.values, self.levels, self.flagged, self.components(), self.reasons, strict=True)


def _score_row(transaction_id, version_id, value, level, flag, components, reasons, now) -> tuple:
    """One row of _SCORE_COLUMNS."""
    return (transaction_id, version_id, value, level, flag, json.dumps(components), json.dumps(reasons), now)


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
    columns = computed.row_ids, computed.values, computed.levels, computed.flagged, parts
    rows = zip(*columns, reasons, strict=True)
    return [
        f"{tx}\t{version_id}\t{value!r}\t{level}\t{'t' if flag else 'f'}\t{parts}\t{why}\t{stamp}\n"
        for tx, value, level, flag, parts, why in rows
    ]


_SCORE_COLUMNS = (
    ("transaction_id", "bigint"),
    ("model_version_id", "bigint"),
    ("score", "float8"),
    ("risk_level", "text"),
    ("is_anomaly", "bool"),
    ("components", "jsonb"),
    ("reasons", "jsonb"),
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
            s.transaction_id, s.model_version_id, s.score, s.risk_level, s.is_anomaly, s.components, s.reasons, now
        )
        for s in scores
    ]
    ids = _score_rows_insert(rows)
    created = []
    for score in scores:
        if score.transaction_id in ids:
            score.pk, score.created_at = ids[score.transaction_id], now
            score._state.adding = False
            created.append(score)
    return created


def _score_rows_insert(rows: list[tuple] = (), copy_lines: list[str] = ()) -> dict[int, int]:
    """INSERT rows of _SCORE_COLUMNS (as tuples, or as COPY lines: a large set, of distinct transactions), skipping
    transactions this version scored before: {transaction pk: score id}.

    A large set is usually of transactions just stored (a batch, a job's chunk): it tries a plain INSERT first
    (`insert_new_returning`; 1.2 MB of WAL a 1,000-row batch, 48 kB of it ON CONFLICT's confirmations)."""
    insert = {"table": Score._meta.db_table, "columns": _SCORE_COLUMNS, "rows": rows, "copy_lines": copy_lines}
    conflict, returning = "transaction_id, model_version_id", "id, transaction_id"
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
    # The scores this call stored, by transaction pk: (score, risk level, flagged, reasons). Transactions this
    # version had scored before are not in it.
    created: dict[int, tuple[float, str, bool, list[str]]] = field(default_factory=dict)


@transaction.atomic(savepoint=False)
def score_stored(
    *,
    pks: Sequence[int] = (),
    source_id: int | None = None,
    transaction_ids: Sequence[str] = (),
    written: Mapping[int, Mapping[str, Any]] | None = None,
    written_final: bool = False,
) -> StoredScoring:
    """Score stored transactions with the active model, given by primary key or by a source and the sender's ids:
    for the batch endpoint and bulk jobs.

    The same features, scores, review items and alerts as `score_transactions`, kept in arrays from the history
    read to the INSERTs (no model instance per row). A transaction this version scored before keeps its score.
    `written` may give the values the caller's open transaction stored for some of them, by primary key (the
    ingest's cleaned rows), which are then not read back, and `written_final` that the transaction will commit
    them as they are with no other write to the transactions table (see `adapters.frame_for_stored`).
    """
    loaded = registry.active_model()
    frame, targets = adapters.frame_for_stored(
        pks=pks, source_id=source_id, transaction_ids=transaction_ids, written=written, written_final=written_final
    )
    if not targets.any():
        return StoredScoring(scored=0, flagged=0, version=loaded.version.version)
    computed = _Computed.of(loaded.detector.score_frame(frame, targets), frame["row_id"][targets])
    now, version_id = timezone.now(), loaded.version.pk
    if len(computed.row_ids) > COPY_ABOVE:
        ids = _score_rows_insert(copy_lines=_score_copy_lines(computed, version_id, now))
    else:
        ids = _score_rows_insert([_score_row(tx, version_id, *rest, now) for tx, *rest in computed.rows()])
    row_ids, flagged = np.asarray(computed.row_ids, dtype=np.int64), np.asarray(computed.flagged, dtype=bool)
    created = np.array([tx in ids for tx in computed.row_ids], dtype=bool)
    score_ids = np.array([ids.get(tx, 0) for tx in computed.row_ids], dtype=np.int64)
    queue = created & flagged
    if queue.any():
        review_items_queue(
            transaction_ids=row_ids[queue],
            score_ids=score_ids[queue],
            scores=np.asarray(computed.values)[queue],
            amounts=frame["amount"][targets][queue],
        )
    if created.any():
        alert = created & alert_rules_screen(computed.values, computed.levels)
        alerts_evaluate_for_scores(score_ids=score_ids[alert].tolist())
    flagged_count = int(queue.sum())
    if not created.all():  # scored before: count them by the score stored then
        flagged_count += Score.objects.filter(
            transaction_id__in=row_ids[~created].tolist(), model_version=loaded.version, is_anomaly=True
        ).count()
    answer = computed.row_ids, computed.values, computed.levels, computed.flagged, computed.reasons
    rows = zip(*answer, created.tolist(), strict=True)
    made = {tx: (value, level, flag, why) for tx, value, level, flag, why, new in rows if new}
    return StoredScoring(scored=len(row_ids), flagged=flagged_count, version=loaded.version.version, created=made)


def model_version_train(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    max_rows: int | None = None,
    seed: int = 0,
    user=None,
    version: ModelVersion | None = None,
) -> ModelVersion:
    """Train a detector on stored transactions in [since, until) and save it as a ready version."""
    version = version or model_version_create(user=user)
    started = time.monotonic()
    try:
        frame, train = _training_frame(since=since, until=until, max_rows=max_rows)
        if train.sum() < 100:
            raise ValueError(f"Too few transactions to train on: {int(train.sum())} (need at least 100).")
        detector = Detector().fit(frame, seed=seed, train_mask=train)
    except Exception as exc:
        ModelVersion.objects.filter(pk=version.pk).update(status=ModelVersion.Status.FAILED, error=str(exc)[:2000])
        raise
    trained = frame[train]
    version.status = ModelVersion.Status.READY
    version.algorithms = list(detector.algorithms)
    version.parameters = dict(detector.params) | {"seed": seed}
    version.feature_names = list(detector.feature_names)
    version.training_start = _from_epoch(trained["ts"].min())
    version.training_end = _from_epoch(trained["ts"].max())
    version.training_rows = len(trained)
    version.labelled_rows = int(trained["label"].notna().sum())
    version.metrics = dict(detector.training_metrics) | {"training_seconds": round(time.monotonic() - started, 2)}
    version.artifact, version.artifact_format = detector.to_bytes(), ARTIFACT_FORMAT
    version.trained_at = timezone.now()
    version.save()
    logger.info("model trained", extra={"version": version.version, "rows": version.training_rows})
    return version


def _training_frame(*, since, until, max_rows):
    """The training rows of [since, until) (the newest `max_rows` of them) and, before them, their history.

    Scoring computes every feature over the account's and merchant's stored history (30 days and more); a model
    trained on its window alone would see the window's first weeks with short histories (few transactions, every
    merchant new) and find ordinary traffic surprising once full histories come. So the frame also holds the
    history window before the first training row, and only the training rows are trained on.
    """
    first = since
    if max_rows:
        newest = Transaction.objects.order_by("-timestamp", "-id")
        if since is not None:
            newest = newest.filter(timestamp__gte=since)
        if until is not None:
            newest = newest.filter(timestamp__lt=until)
        first = newest.values_list("timestamp", flat=True)[max_rows - 1 : max_rows].first() or since
    context = None if first is None else first - timedelta(seconds=TRAINING_HISTORY_SECONDS)
    frame = adapters.frame_for_window(since=context, until=until)
    ts = frame["ts"].to_numpy()
    train = np.ones(len(frame), bool) if first is None else ts >= int(first.timestamp())
    if max_rows and train.sum() > max_rows:  # rows sharing the first training row's second: keep the newest ones
        train[np.flatnonzero(train)[: int(train.sum()) - max_rows]] = False
    return frame, train


def model_version_retrain(*, days: int, activate: bool) -> ModelVersion | None:
    """Train on the newest `days` days of stored traffic, labels known so far included; None with too little data.

    With `activate`, the new version replaces the active one; otherwise it waits, ready, for an admin.
    """
    newest = Transaction.objects.order_by("-timestamp").values_list("timestamp", flat=True).first()
    if newest is None:
        return None
    since = newest - timedelta(days=days)
    if Transaction.objects.filter(timestamp__gte=since).count() < 100:
        return None
    version = model_version_train(since=since, until=newest + timedelta(seconds=1))
    if activate:
        model_version_activate(version=version)
    return version


def model_version_create(*, user=None) -> ModelVersion:
    """A new version number in the training state; retried if two trainings start at once."""
    for _ in range(5):
        try:
            with transaction.atomic():
                latest = ModelVersion.objects.aggregate(latest=Max("version"))["latest"] or 0
                return ModelVersion.objects.create(version=latest + 1, created_by=user)
        except IntegrityError:
            continue
    raise RuntimeError("Could not allocate a model version number.")


@transaction.atomic
def model_version_activate(*, version: ModelVersion, user=None, request=None) -> ModelVersion:
    """Make a ready (or retired) version the active one; the previous active version is retired."""
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    if version.status == ModelVersion.Status.ACTIVE:
        return version
    if version.status not in (ModelVersion.Status.READY, ModelVersion.Status.RETIRED):
        raise ValueError(f"Version v{version.version} is {version.status}; only a trained version can be activated.")
    if not version.artifact:
        raise ValueError(f"Version v{version.version} has no trained model to activate.")
    try:  # a version this release cannot read (a newer release trained it, say) would stop all scoring
        Detector.from_bytes(bytes(version.artifact), version.artifact_format)
    except ArtifactError as exc:
        raise ValueError(f"Version v{version.version} cannot be activated: {exc}.") from exc
    previous = ModelVersion.objects.select_for_update().filter(status=ModelVersion.Status.ACTIVE).first()
    if previous is not None:
        previous.status = ModelVersion.Status.RETIRED
        previous.save(update_fields=["status"])
    version.status = ModelVersion.Status.ACTIVE
    version.activated_at = timezone.now()
    version.save(update_fields=["status", "activated_at"])
    audit_record(
        action="model.activate",
        obj=version,
        before={"active_version": previous.version if previous else None},
        after={"active_version": version.version},
        actor=user,
        request=request,
    )
    transaction.on_commit(registry.active_model_changed)
    return version


def _from_epoch(seconds) -> datetime | None:
    return datetime.fromtimestamp(int(seconds), tz=UTC) if seconds == seconds else None
