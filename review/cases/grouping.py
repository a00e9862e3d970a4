"""Newly queued items join their account's open case, one opening where there is none: two statements for any
number of items, so a bulk job that flags thousands pays no per-item query."""

from django.db import connection

# The new items that have no case yet, each with its transaction's account and words for the case's history, made
# once per statement. The items and their transactions are looked up by primary key one by one (LIMIT 1 keeps the
# planner from turning the lookups into a join, and the key alone in the lookup from another index): joins planned
# on stale statistics (a case table younger than its last ANALYZE, a store just imported) scanned the whole
# transactions table, or read the items and their transactions again for every open case.
_ITEMS = """
items AS MATERIALIZED (
    SELECT i.id, t.account_id, t.transaction_id, t.amount, t.currency
    FROM unnest(%(items)s::bigint[]) AS given (id)
    CROSS JOIN LATERAL (
        SELECT i.id, i.transaction_id, i.case_id FROM review_reviewitem i WHERE i.id = given.id LIMIT 1
    ) i
    CROSS JOIN LATERAL (
        SELECT t.account_id, t.transaction_id, t.amount, t.currency
        FROM transactions_transaction t WHERE t.id = i.transaction_id LIMIT 1
    ) t
    WHERE i.case_id IS NULL
)"""

# A case per account that has none open yet; the partial unique index keeps it one under concurrency.
_OPEN_CASES = f"""
WITH {_ITEMS}, opened AS (
    INSERT INTO review_case (organisation_id, account_id, status, created_at, snooze_reason)
    SELECT DISTINCT %(organisation)s, account_id, 'open', now(), '' FROM items
    ON CONFLICT (organisation_id, account_id) WHERE status = 'open' DO NOTHING
    RETURNING id, account_id
)
INSERT INTO review_caseevent (case_id, kind, text, created_at)
SELECT id, 'opened', 'Opened for account ' || account_id, clock_timestamp() FROM opened
"""  # noqa: S608 - constant SQL; the values are bound parameters

# Each item into its account's open case, and the case's history says so.
_JOIN = f"""
WITH {_ITEMS}, joined AS (
    UPDATE review_reviewitem i SET case_id = c.id
    FROM items x, review_case c
    WHERE i.id = x.id AND i.case_id IS NULL
      AND c.organisation_id = %(organisation)s AND c.account_id = x.account_id AND c.status = 'open'
    RETURNING c.id AS case_id, x.transaction_id, x.amount, x.currency
)
INSERT INTO review_caseevent (case_id, kind, text, created_at)
SELECT case_id, 'joined', 'Transaction ' || transaction_id || ' joined (' || amount || ' ' || currency || ')',
       clock_timestamp()
FROM joined
"""  # noqa: S608 - constant SQL; the values are bound parameters


def cases_join_items(*, organisation_id: int, item_ids: list[int]) -> None:
    """Put the organisation's newly queued items in their accounts' open cases (opened as needed)."""
    if not item_ids:
        return
    params = {"organisation": organisation_id, "items": list(item_ids)}
    with connection.cursor() as cursor:
        cursor.execute(_OPEN_CASES, params)
        cursor.execute(_JOIN, params)


_CLOSE_FINISHED = """
WITH closed AS (
    UPDATE review_case c SET status = 'closed', closed_at = now()
    WHERE c.id = ANY(%(cases)s) AND c.status = 'open'
      AND NOT EXISTS (SELECT 1 FROM review_reviewitem i WHERE i.case_id = c.id AND i.status IN ('open', 'in_review'))
    RETURNING c.id
)
INSERT INTO review_caseevent (case_id, kind, text, user_id, created_at)
SELECT id, 'closed', 'Closed: nothing left to decide', %(user)s, clock_timestamp() FROM closed
RETURNING case_id
"""


def cases_close_finished(*, case_ids, user=None) -> list[int]:
    """Close the given open cases that have no item left to decide; returns the ids closed."""
    case_ids = sorted({pk for pk in case_ids if pk is not None})
    if not case_ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_CLOSE_FINISHED, {"cases": case_ids, "user": getattr(user, "pk", None)})
        return [row[0] for row in cursor.fetchall()]
