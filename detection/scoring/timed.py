"""Score rows take their transaction's time (the partition key of the scores tables, detection 0015) in the INSERT
itself, from the transactions' keys (one primary-key probe a row): every path that stores scores gives the same
time whatever it knows of the transaction, and the statement-level check compares it with the transaction's."""

from collections.abc import Sequence

TIME = "transaction_time"
_KEYS = "LEFT JOIN transactions_transactionkey k ON k.id = s.transaction_id"


def with_transaction_time(columns: Sequence[tuple[str, str]]) -> dict:
    """`insert_returning` arguments (core/bulk_insert.py) storing rows of `columns` (transaction_id among them) and
    their transaction's time. A transaction that does not exist leaves the time NULL, which the table refuses."""
    names = [name for name, _ in columns]
    return {
        "into": (*names, TIME),
        "select": ", ".join([*(f"s.{name}" for name in names), 'k."timestamp"']),
        "join": _KEYS,
    }
