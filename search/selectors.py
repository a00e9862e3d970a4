"""The search over an organisation's stored transactions, every one of them, queued or not.

`q` is compared whole with a transaction's id, account, merchant and device; each comparison is its own query
over its own index, newest first and cut at the page's size, and the union of the four is cut again: reading one
page costs the same whether an account has ten transactions or a merchant a million. Pages follow one another by
keyset (the last row's time and id), never by OFFSET, and nothing is counted.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import OuterRef, Q, QuerySet, Subquery

from detection.models import Score
from transactions.models import Source, Transaction

PAGE_SIZE = 50
# The columns `q` is compared with, in the order a match is named when several hold it.
MATCHED_FIELDS = {
    "transaction_id": "transaction id",
    "account_id": "account",
    "merchant_id": "merchant",
    "device_id": "device",
}

Position = tuple[datetime, int]


@dataclass(frozen=True)
class Criteria:
    q: str = ""
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive

    def __bool__(self) -> bool:
        return any(value not in (None, "") for value in vars(self).values())


@dataclass
class SearchPage:
    rows: list[Transaction]
    next_after: Position | None


def organisation_transactions(*, organisation_id: int | None) -> QuerySet[Transaction]:
    """The organisation's transactions, through its few sources (which the unique (source, id) index leads with)."""
    if organisation_id is None:
        return Transaction.objects.none()
    return Transaction.objects.filter(source_id__in=Source.objects.filter(organisation_id=organisation_id).values("pk"))


def _filters_q(criteria: Criteria, after: Position | None) -> Q:
    q = Q()
    if criteria.min_amount is not None:
        q &= Q(amount__gte=criteria.min_amount)
    if criteria.max_amount is not None:
        q &= Q(amount__lte=criteria.max_amount)
    if criteria.start is not None:
        q &= Q(timestamp__gte=criteria.start)
    if criteria.end is not None:
        q &= Q(timestamp__lt=criteria.end)
    if after is not None:
        timestamp, pk = after
        q &= Q(timestamp__lt=timestamp) | Q(timestamp=timestamp, pk__lt=pk)
    return q


def _field_q(field: str, value: str) -> Q:
    if field == "device_id":  # the device index's own condition, so that the planner takes it
        return Q(device_id=value) & ~Q(device_id="")
    return Q(**{field: value})


def _page_keys(base: QuerySet[Transaction], criteria: Criteria, limit: int) -> list[int]:
    """The ids of the page's rows, newest first: one query."""
    newest = ("-timestamp", "-id")
    if not criteria.q:
        return list(base.order_by(*newest).values_list("pk", flat=True)[:limit])
    parts = [
        base.filter(_field_q(field, criteria.q)).order_by(*newest).values_list("timestamp", "id")[:limit]
        for field in MATCHED_FIELDS
    ]
    keys = parts[0].union(*parts[1:]).order_by(*newest)[:limit]
    return [pk for _, pk in keys]


def transactions_search(
    *, organisation_id: int | None, criteria: Criteria, after: Position | None = None, limit: int = PAGE_SIZE
) -> SearchPage:
    """A page of the organisation's transactions matching `criteria`, newest first, after `after`: two queries,
    with each row's review item and latest score."""
    if not criteria:
        return SearchPage(rows=[], next_after=None)
    base = organisation_transactions(organisation_id=organisation_id).filter(_filters_q(criteria, after))
    keys = _page_keys(base, criteria, limit + 1)
    # With the transaction's time, each row's scores are read from its month's partition alone.
    latest = Score.objects.filter(transaction=OuterRef("pk"), transaction_time=OuterRef("timestamp")).order_by(
        "-created_at", "-pk"
    )
    rows = list(
        Transaction.objects.filter(pk__in=keys[:limit])
        .select_related("review_item", "review_item__assignee")
        .annotate(
            latest_score=Subquery(latest.values("score")[:1]),
            latest_risk=Subquery(latest.values("risk_level")[:1]),
        )
        .order_by("-timestamp", "-id")
    )
    for row in rows:
        row.item = getattr(row, "review_item", None)  # selected with the row: no query
        row.matched = [
            label for field, label in MATCHED_FIELDS.items() if criteria.q and getattr(row, field) == criteria.q
        ]
    more = len(keys) > limit and rows
    return SearchPage(rows=rows, next_after=(rows[-1].timestamp, rows[-1].pk) if more else None)
