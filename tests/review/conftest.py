"""Helpers for the review tests: open items in bulk, and a queue filled with a few items."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from detection.models import Score
from review.models import ReviewItem
from review.services import review_priority
from tests.factories import ModelVersionFactory, SourceFactory
from transactions.models import Transaction


def bulk_open_items(count: int, *, prefix: str = "bulk") -> list[ReviewItem]:
    """`count` flagged transactions with scores and open review items, three bulk inserts in all."""
    source = SourceFactory(name=f"{prefix}-source")
    version = ModelVersionFactory()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    txs = Transaction.objects.bulk_create(
        Transaction(
            source=source,
            transaction_id=f"{prefix}-{i:06d}",
            timestamp=start + timedelta(minutes=i),
            account_id=f"acct-{i % 500:04d}",
            amount=Decimal(10 + i % 900),
            merchant_id=f"m-{i % 80:03d}",
            merchant_category=("travel", "grocery", "electronics")[i % 3],
        )
        for i in range(count)
    )
    scores = Score.objects.bulk_create(
        Score(
            transaction=tx,
            model_version=version,
            score=0.95 + (i % 50) / 1000,
            risk_level=Score.RiskLevel.HIGH,
            is_anomaly=True,
            reasons=[f"amount {2 + i % 7}x this account's median"],
        )
        for i, tx in enumerate(txs)
    )
    return ReviewItem.objects.bulk_create(
        ReviewItem(
            transaction=s.transaction, score=s, priority=review_priority(score=s.score, amount=s.transaction.amount)
        )
        for s in scores
    )


@pytest.fixture
def open_items(db):
    return bulk_open_items(3, prefix="few")
