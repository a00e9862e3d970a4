"""Newly queued items join their account's open case, one opening where there is none: two statements for any
number of items, so a bulk job that flags thousands pays no per-item query."""

from django.db import connection

# A case per account that has none open yet; the partial unique index keeps it one under concurrency.
_OPEN_CASES = """
WITH opened AS (
    INSERT INTO review_case (organisation_id, account_id, status, created_at, snooze_reason)
    SELECT DISTINCT %(organisation)s, t.account_id, 'open', now(), ''
    FROM review_reviewitem i JOIN transactions_transaction t ON t.id = i.transaction_id
    WHERE i.id = ANY(%(items)s)
    ON CONFLICT (organisation_id, account_id) WHERE status = 'open' DO NOTHING
    RETURNING id, account_id
)
INSERT INTO review_caseevent (case_id, kind, text, created_at)
SELECT id, 'opened', 'Opened for account ' || account_id, now() FROM opened
"""

# Each item into its account's open case, and the case's history says so.
_JOIN = """
WITH joined AS (
    UPDATE review_reviewitem i SET case_id = c.id
    FROM transactions_transaction t, review_case c
    WHERE i.id = ANY(%(items)s) AND i.case_id IS NULL AND t.id = i.transaction_id
      AND c.organisation_id = %(organisation)s AND c.account_id = t.account_id AND c.status = 'open'
    RETURNING c.id AS case_id, t.transaction_id, t.amount, t.currency
)
INSERT INTO review_caseevent (case_id, kind, text, created_at)
SELECT case_id, 'joined', 'Transaction ' || transaction_id || ' joined (' || amount || ' ' || currency || ')', now()
FROM joined
"""


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
SELECT id, 'closed', 'Closed: nothing left to decide', %(user)s, now() FROM closed
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
