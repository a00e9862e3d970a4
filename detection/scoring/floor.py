"""The floor the scoring endpoints are measured against (`make bench`, docs/benchmarks.md): what any scoring request
must do at the least, with the same server, authentication, throttling and body parsing as the real endpoints.

Each transaction is cleaned (the one place of ingest rules), stored as one row, one 30-day aggregate of its
account's history is read, and one score row is written: no features, no model, no decision. Routed only with
BENCH_ENDPOINTS=1 (anomaly_site/settings.py), which nothing but the benchmarks sets; never in production.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from core.api_errors import FieldErrors, error_item
from detection.scoring import registry
from detection.scoring.apis import PartnerApi, partner_source
from transactions.models import Source
from transactions.validation import transaction_clean

WINDOW = "30 days"


@dataclass(frozen=True)
class FloorRow:
    transaction_id: str
    timestamp: datetime
    account_id: str
    amount: Decimal
    merchant_id: str


def floor_rows(items: list) -> list[FloorRow]:
    """The items cleaned as every ingest cleans them; the first bad one is a 400 naming its index and field."""
    rows = []
    for index, item in enumerate(items):
        cleaned = transaction_clean(item)
        if not cleaned.ok:
            raise FieldErrors(
                [error_item(f"transactions[{index}].{e.field or 'item'}", e.reason) for e in cleaned.errors]
            )
        data = cleaned.data
        rows.append(
            FloorRow(data["transaction_id"], data["timestamp"], data["account_id"], data["amount"], data["merchant_id"])
        )
    return rows


@transaction.atomic
def floor_store(*, source: Source, rows: list[FloorRow]) -> list[dict]:
    """Store the rows (a row already stored is left as it is), read each one's 30-day count and sum of its account's
    earlier transactions in the organisation, store a score for each new row; one statement each, for any count."""
    version_id = registry.active_model(organisation_id=source.organisation_id).version.pk
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO transactions_transaction (source_id, transaction_id, timestamp, account_id, amount, currency,"
            " merchant_id, merchant_category, channel, country, device_id, attributes, label_source, ingested_at)"
            " SELECT %s, t, ts, a, m, %s, mid, '', 'other', '', '', '{}', '', %s"
            " FROM unnest(%s::text[], %s::timestamptz[], %s::text[], %s::numeric[], %s::text[]) AS r(t, ts, a, m, mid)"
            " WHERE NOT EXISTS (SELECT 1 FROM transactions_transactionkey k WHERE k.source_id = %s AND"
            " k.transaction_id = r.t) RETURNING id, transaction_id, account_id, timestamp",
            [
                source.pk,
                settings.DEFAULT_CURRENCY,
                now,
                [r.transaction_id for r in rows],
                [r.timestamp for r in rows],
                [r.account_id for r in rows],
                [r.amount for r in rows],
                [r.merchant_id for r in rows],
                source.pk,
            ],
        )
        stored = cursor.fetchall()
        if not stored:
            return []
        cursor.execute(
            "SELECT r.id, count(t.id), coalesce(sum(t.amount), 0)"
            " FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[]) AS r(id, a, ts)"
            " LEFT JOIN transactions_transaction t ON t.account_id = r.a"
            " AND t.timestamp >= r.ts - %s::interval AND t.timestamp < r.ts"
            " AND t.source_id IN (SELECT id FROM transactions_source WHERE organisation_id = %s)"
            " GROUP BY r.id",
            [[s[0] for s in stored], [s[2] for s in stored], [s[3] for s in stored], WINDOW, source.organisation_id],
        )
        history = {pk: (count, total) for pk, count, total in cursor.fetchall()}
        scores = {pk: min(1.0, history[pk][0] / 100) for pk, *_ in stored}
        cursor.execute(
            "INSERT INTO detection_score (transaction_id, model_version_id, score, risk_level, is_anomaly, components,"
            " reasons, decision, rules, created_at, transaction_time)"
            " SELECT r.id, %s, r.s, 'low', false, '{}', '[]', 'allow', '[]', %s, r.ts"
            " FROM unnest(%s::bigint[], %s::float8[], %s::timestamptz[]) AS r(id, s, ts)",
            [version_id, now, list(scores), list(scores.values()), [s[3] for s in stored]],
        )
    return [
        {"transaction_id": tid, "score": scores[pk], "count_30d": history[pk][0], "sum_30d": float(history[pk][1])}
        for pk, tid, *_ in stored
    ]


class FloorScoreApi(PartnerApi):
    """The floor of POST /api/v1/transactions/score."""

    required_scope = "score"

    def post(self, request):
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": ["A JSON object is required."]})
        results = floor_store(source=partner_source(request), rows=floor_rows([request.data]))
        return Response(results[0] if results else {}, status=status.HTTP_201_CREATED)


class FloorScoreBatchApi(PartnerApi):
    """The floor of POST /api/v1/transactions/score/batch."""

    required_scope = "score"

    def post(self, request):
        items = request.data.get("transactions") if isinstance(request.data, dict) else None
        if not isinstance(items, list):
            raise ValidationError({"transactions": ["A list of transactions is required."]})
        results = floor_store(source=partner_source(request), rows=floor_rows(items))
        return Response({"results": results})
