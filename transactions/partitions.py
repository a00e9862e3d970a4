"""The transactions table's month partitions (core/partitions.py): made on demand for the months a batch brings,
and ahead of time by Celery beat, so that a month's first transaction seldom waits for its partition."""

from collections.abc import Iterable
from datetime import date, datetime

from django.utils import timezone

from core.partitions import ensure_months, month_start, months_from
from transactions.models import Transaction

TABLE = Transaction._meta.db_table
KEY = '"timestamp"'
MONTHS_AHEAD = 3


def transaction_months_ensure(moments: Iterable[datetime | date], *, remembered: bool = True) -> list[date]:
    """Make the partitions of the months of `moments` that lack one; returns the months made."""
    return ensure_months(TABLE, KEY, moments, remembered=remembered)


def transaction_months_ahead(*, today: date | None = None, ahead: int = MONTHS_AHEAD) -> list[date]:
    """Make this month's partition and the next `ahead` months'; returns those made."""
    return transaction_months_ensure(months_from(month_start(today or timezone.now()), ahead=ahead))
