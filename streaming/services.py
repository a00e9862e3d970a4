"""What a consumer does with a micro-batch of messages: the batch endpoint's ingest and scoring, message by message
routed to a decision or to the dead letters.

The messages' bodies are transactions in the canonical or the prototype's shape (the ingest rules read both). The
batch is stored and scored by `transactions_score_batch`, the very call behind `POST /api/v1/transactions/score/batch`,
in one database transaction: a redelivered message (a transaction id the source already sent) finds its stored row and
score, and its decision is published again unchanged.
"""

from dataclasses import dataclass, field
from typing import Any

import orjson

from accounts.models import Organisation
from core.api_errors import error_item
from detection.scoring.api_services import transactions_score_batch
from transactions.models import Source

# The fields of a decision message: those of the batch endpoint's result item, without its index and `created`,
# so that a redelivered message's decision is the same bytes as the first.
DECISION_FIELDS = (
    "transaction_id",
    "score",
    "risk_level",
    "is_anomaly",
    "decision",
    "rules",
    "tags",
    "reasons",
    "model_version",
)
# A dead letter quotes at most this much of the message it refuses.
DEAD_LETTER_QUOTE_CHARS = 10_000


class OrganisationUnclear(ValueError):
    """No organisation was named and there is not exactly one to default to."""


@dataclass
class BatchOutcome:
    """Each message's fate by its index in the batch: a decision to publish, or a dead letter."""

    decisions: dict[int, bytes] = field(default_factory=dict)
    dead_letters: dict[int, bytes] = field(default_factory=dict)
    created: int = 0


def stream_organisation(name: str | None) -> Organisation:
    """The organisation a consumer's traffic belongs to: the one named, or the only one there is."""
    if name:
        try:
            return Organisation.objects.get(name=name)
        except Organisation.DoesNotExist:
            raise OrganisationUnclear(f"No organisation is named {name!r}.") from None
    organisations = list(Organisation.objects.order_by("pk")[:2])
    if len(organisations) != 1:
        found = "none" if not organisations else "several"
        raise OrganisationUnclear(f"There are {found}: name the consumer's organisation with --organisation.")
    return organisations[0]


def stream_source(*, organisation: Organisation, name: str) -> Source:
    """The organisation's source of this name, whatever its kind (a partner's own source may take its stream too, so
    that an id sent both ways is one transaction); made as a partner source when missing."""
    source, _ = Source.objects.get_or_create(
        organisation=organisation, name=name, defaults={"kind": Source.Kind.PARTNER}
    )
    return source


def messages_score(*, source: Source, bodies: list[bytes]) -> BatchOutcome:
    """Store and score a micro-batch of message bodies through the batch endpoint's path; every message comes back
    as a decision or a dead letter naming its field and reason."""
    outcome = BatchOutcome()
    rows, positions = [], []
    for index, body in enumerate(bodies):
        row, problem = _decoded(body)
        if problem is not None:
            outcome.dead_letters[index] = dead_letter(body, errors=[problem])
        else:
            rows.append(row)
            positions.append(index)
    if not rows:
        return outcome
    answer = transactions_score_batch(source=source, rows=rows)
    for item in answer["results"]:
        outcome.decisions[positions[item["index"]]] = orjson.dumps({name: item[name] for name in DECISION_FIELDS})
    for error in answer["errors"]:
        index = positions[error["index"]]
        refused = dead_letter(bodies[index], errors=error["errors"], transaction_id=error["transaction_id"])
        outcome.dead_letters[index] = refused
    outcome.created = answer["counts"]["created"]
    return outcome


def _decoded(body: bytes) -> tuple[Any, dict | None]:
    try:
        row = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return None, error_item(None, f"The message is not JSON: {exc}.", "not_json")
    if not isinstance(row, dict):
        return None, error_item(None, "A JSON object (one transaction) is required.", "not_object")
    return row, None


def dead_letter(body: bytes, *, errors: list[dict], transaction_id: str | None = None) -> bytes:
    """A refused message as the dead letters carry it: why (field and reason), and the message itself as text."""
    text = body.decode("utf-8", errors="replace")
    letter = {
        "transaction_id": transaction_id,
        "errors": errors,
        "message": text[:DEAD_LETTER_QUOTE_CHARS],
        "message_truncated": len(text) > DEAD_LETTER_QUOTE_CHARS,
    }
    return orjson.dumps(letter)
