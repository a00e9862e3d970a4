"""What the partner API writes: ingest then score, one or a batch, and outcome reports (labels).

Each call is one database transaction: a transaction is stored together with its score, or not at all, so a
retried request finds either nothing or the finished result. Reviews and alerts follow the commit (the
detection services queue them with on_commit).
"""

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction as db

from core import metrics
from core.api_errors import error_item
from detection.models import Score, matched_rules
from detection.scoring.deciding import tags_of
from detection.scoring.services import StoredRows, score_stored, score_transactions
from transactions.models import LabelSource, Source, Transaction
from transactions.services import transaction_ingest, transaction_label, transactions_ingest_rows
from transactions.validation import timestamp_min


def unscorable_reason() -> str:
    """A transaction an older release stored with a time the ingest rules now refuse (year 1) is never scored."""
    return f"the stored transaction's time is before {timestamp_min():%Y-%m-%d}, the earliest time scored"


BATCH_COUNTS = ("received", "created", "existing", "invalid")


@dataclass(frozen=True)
class ScoreOutcome:
    transaction: Transaction
    score: Score
    created: bool


class InvalidTransaction(Exception):
    def __init__(self, errors: list[dict]):
        super().__init__("invalid transaction")
        self.errors = errors


def field_errors(errors) -> list[dict]:
    """The ingest helper's errors (FieldError objects, dicts or a {field: reason} mapping) as {field, reason}."""
    if isinstance(errors, dict):
        return [error_item(str(field), str(reason)) for field, reason in errors.items()]
    items = []
    for error in errors or ():
        if isinstance(error, dict):
            items.append(error_item(error.get("field"), str(error.get("reason")), error.get("code", "invalid")))
        else:
            items.append(error_item(getattr(error, "field", None), str(getattr(error, "reason", error))))
    return items


def score_payload(transaction: Transaction, score: Score) -> dict[str, Any]:
    return {"transaction_id": transaction.transaction_id, **_stored_score_fields(score)}


def _stored_score_fields(score: Score) -> dict[str, Any]:
    fields = score.score, score.risk_level, score.is_anomaly, score.reasons, score.decision_made, score.rules
    return _score_fields(*fields, model_version=score.model_version.version)


def _score_fields(
    score: float, risk_level: str, is_anomaly: bool, reasons, decision: str, rules, *, model_version: int
) -> dict[str, Any]:
    """The answer's score fields, whether from a stored Score or from the arrays just stored."""
    return {
        "score": score,
        "risk_level": risk_level,
        "is_anomaly": is_anomaly,
        "reasons": list(reasons),
        "decision": decision,
        # Most rows match no rule: nothing to look through.
        "rules": [rule_answer(rule) for rule in matched_rules(rules)] if rules else [],
        "tags": tags_of(rules) if rules else [],
        "model_version": model_version,
    }


def rule_answer(rule: dict) -> dict[str, Any]:
    """A matched rule as answers name it (a tag rule's tag is in the answer's `tags`)."""
    return {"id": rule["id"], "name": rule["name"], "version": rule["version"], "action": rule["action"]}


@db.atomic
def transaction_score(*, source: Source, data: dict) -> ScoreOutcome:
    """Store and score one transaction; one already stored keeps (and returns) its stored score."""
    started = time.perf_counter()
    result = transaction_ingest(source=source, data=data)
    if result.errors:
        raise InvalidTransaction(field_errors(result.errors))
    tx = result.transaction
    if tx.timestamp < timestamp_min():
        raise InvalidTransaction([error_item("timestamp", unscorable_reason(), "unscorable")])
    stored = None if result.created else _latest_scores([tx]).get(tx.pk)
    score = stored or score_transactions(transactions=[tx])[0]
    if stored is None:
        metrics.scores_recorded(
            [score], organisation=source.organisation.name, path="single", seconds=time.perf_counter() - started
        )
    return ScoreOutcome(transaction=tx, score=score, created=result.created)


def transactions_score_batch(*, source: Source, rows: list[dict]) -> dict[str, Any]:
    """Store and score many; bad items come back as errors by index and do not stop the good ones.

    Rows stay primary keys and arrays from ingest to the answer (no model instance per row); a transaction
    already stored keeps, and answers with, its newest stored score.
    """
    # In a transaction of its own, this call is all that transaction writes: the history cache may take the
    # stored rows in at commit rather than read them back.
    return _score_batch(source=source, rows=rows, alone=not db.get_connection().in_atomic_block)


@db.atomic
def _score_batch(*, source: Source, rows: list[dict], alone: bool) -> dict[str, Any]:
    started = time.perf_counter()
    ingested = transactions_ingest_rows(source=source, rows=rows)
    errors, good = [], []
    for index, (row, result) in enumerate(zip(rows, ingested, strict=True)):
        if result.errors:
            errors.append({"index": index, "transaction_id": given_id(row), "errors": field_errors(result.errors)})
        else:
            good.append((index, result))
    payloads = _latest_score_payloads([r.pk for _, r in good if not r.created])
    to_score = list(dict.fromkeys(r.pk for _, r in good if r.pk not in payloads))
    if to_score:
        written = {r.pk: r.stored for _, r in good if r.created}
        stored = StoredRows(pks=to_score, written=written, written_source_id=source.pk, written_final=alone)
        fresh = score_stored(stored=stored)
        for pk, fields in fresh.created.items():
            payloads[pk] = _score_fields(*fields, model_version=fresh.version)
        if fresh.created:
            flagged = sum(1 for _, _, flag, *_ in fresh.created.values() if flag)
            seconds = time.perf_counter() - started
            metrics.counts_recorded(
                organisation=source.organisation.name,
                model_version=fresh.version,
                scored=len(fresh.created),
                flagged=flagged,
                kind="batch",
                seconds=seconds,
            )
        payloads |= _latest_score_payloads([pk for pk in to_score if pk not in payloads])  # scored meanwhile
    unscored = [(i, r) for i, r in good if r.pk not in payloads]  # stored by an older release, before the first time
    if unscored:
        errors = sorted(errors + [_unscorable(i, r) for i, r in unscored], key=lambda error: error["index"])
        good = [(i, r) for i, r in good if r.pk in payloads]
    items = [{"index": i, "created": r.created, "transaction_id": r.transaction_id, **payloads[r.pk]} for i, r in good]
    created = sum(1 for _, r in good if r.created)
    counts = {"received": len(rows), "created": created, "existing": len(good) - created, "invalid": len(errors)}
    return {"results": items, "errors": errors, "counts": counts}


def _unscorable(index: int, row) -> dict:
    reason = unscorable_reason()
    return {
        "index": index,
        "transaction_id": row.transaction_id,
        "errors": [error_item("timestamp", reason, "unscorable")],
    }


def _latest_score_payloads(pks: list[int]) -> dict[int, dict[str, Any]]:
    """The answer's score fields of each transaction's newest stored score, in one query."""
    if not pks:
        return {}
    return {score.transaction_id: _stored_score_fields(score) for score in _latest_score_rows(pks)}


def given_id(row: Any) -> str | None:
    """The transaction id an item gave, to name it in its error: text, or a number as text; None for anything
    else (an object, a list), which is no id."""
    value = row.get("transaction_id") if isinstance(row, dict) else None
    if isinstance(value, str):
        return value
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _latest_scores(transactions: list[Transaction]) -> dict[int, Score]:
    """The newest stored score of each given transaction, in one query."""
    if not transactions:
        return {}
    return {score.transaction_id: score for score in _latest_score_rows([tx.pk for tx in transactions])}


def _latest_score_rows(pks: list[int]):
    return (
        Score.objects.select_related("model_version")
        .filter(transaction__in=pks)
        .order_by("transaction_id", "-created_at", "-id")
        .distinct("transaction_id")
    )


@dataclass(frozen=True)
class LabelReport:
    transaction_id: str
    label: int
    note: str = ""
    reported_at: datetime | None = None


@db.atomic
def labels_report(*, source: Source, reports: list[LabelReport]) -> dict[str, Any]:
    """Record reported outcomes (chargebacks, confirmations) on this source's transactions; unknown ids are errors."""
    found = {
        tx.transaction_id: tx
        for tx in Transaction.objects.filter(source=source, transaction_id__in={r.transaction_id for r in reports})
    }
    errors, labelled = [], []
    for index, report in enumerate(reports):
        tx = found.get(report.transaction_id)
        if tx is None:
            reason = "No transaction with this id was sent from your source."
            errors.append(
                {
                    "index": index,
                    "transaction_id": report.transaction_id,
                    "errors": [error_item("transaction_id", reason, "not_found")],
                }
            )
            continue
        transaction_label(
            transaction=tx, label=report.label, source=LabelSource.REPORTED, note=report.note, at=report.reported_at
        )
        labelled.append({"index": index, "transaction_id": tx.transaction_id, "label": report.label})
    return {"results": labelled, "errors": errors, "counts": {"received": len(reports), "labelled": len(labelled)}}
