"""The transactions table's month partitions (core/partitions.py): made on demand for the months a batch brings,
and ahead of time by Celery beat, so that a month's first transaction seldom waits for its partition.

Tables that grow with the transactions (their scores) are partitioned by the month of their transaction's time too:
their app registers them here (`partitioned_with_transactions`), and every month made for the transactions is made
for them in the same call, so a score always finds its transaction's month; `manage.py archive` writes and drops
their months with the transactions'."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from django.utils import timezone

from core.partitions import ensure_months, month_start, months_from
from transactions.models import Transaction

TABLE = Transaction._meta.db_table
KEY = '"timestamp"'
MONTHS_AHEAD = 3


@dataclass(frozen=True)
class Follower:
    """A table partitioned by the month of its rows' transaction's time (`key`, a column equal to it)."""

    table: str
    key: str
    archive_as: str  # its files' folder under ARCHIVE_DIR
    json_columns: tuple[str, ...] = ()  # written to the archive as JSON text


FOLLOWERS: dict[str, Follower] = {}


def partitioned_with_transactions(follower: Follower) -> None:
    """Register a table whose months are made, archived and dropped with the transactions' (from an app's ready)."""
    FOLLOWERS[follower.table] = follower


def transaction_months_ensure(moments: Iterable[datetime | date], *, remembered: bool = True) -> list[date]:
    """Make the partitions of the months of `moments` that lack one, for the transactions and the tables that follow
    them; returns the transactions' months made."""
    months = {month_start(moment) for moment in moments}
    made = ensure_months(TABLE, KEY, months, remembered=remembered)
    for follower in FOLLOWERS.values():
        ensure_months(follower.table, follower.key, months, remembered=remembered)
    return made


def transaction_months_ahead(*, today: date | None = None, ahead: int = MONTHS_AHEAD) -> list[date]:
    """Make this month's partition and the next `ahead` months'; returns those made."""
    return transaction_months_ensure(months_from(month_start(today or timezone.now()), ahead=ahead))
