"""Small builders shared by the alert tests."""

from datetime import UTC, datetime, timedelta

from alerts.models import AlertDelivery
from tests.factories import ScoreFactory, TransactionFactory

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def scored(*, score=0.97, risk_level="high", minutes=0, **tx_fields):
    """A committed score on a new transaction, `minutes` after T0."""
    tx = TransactionFactory(timestamp=T0 + timedelta(minutes=minutes), **tx_fields)
    return ScoreFactory(transaction=tx, score=score, risk_level=risk_level)


def delivery_statuses(rule) -> list[str]:
    return list(AlertDelivery.objects.filter(rule=rule).order_by("id").values_list("status", flat=True))
