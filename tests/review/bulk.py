"""Open review items in bulk, three INSERTs in all: for the review tests and the review-queue benchmark."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from detection.models import ModelVersion, Score
from review.models import ReviewItem
from review.services import review_priority
from tests.factories import ModelVersionFactory, SourceFactory
from transactions.models import Source, Transaction


@dataclass(frozen=True)
class Spread:
    """How the i-th bulk row's values vary: accounts, merchants, categories and risk levels taken in turn, the
    amount, score and reasons computed from i. The defaults are the tests'."""

    accounts: int = 500
    merchants: int = 80
    categories: tuple[str, ...] = ("travel", "grocery", "electronics")
    amount: Callable[[int], Decimal] = lambda i: Decimal(10 + i % 900)
    score: Callable[[int], float] = lambda i: 0.95 + (i % 50) / 1000
    risk_levels: tuple[str, ...] = (Score.RiskLevel.HIGH,)
    reasons: Callable[[int], list[str]] = lambda i: [f"amount {2 + i % 7}x this account's median"]


def bulk_open_items(
    count: int,
    *,
    prefix: str = "bulk",
    source: Source | None = None,
    version: ModelVersion | None = None,
    spread: Spread = Spread(),
) -> list[ReviewItem]:
    """`count` flagged transactions of `source` (a new one by default) with scores of `version` (likewise) and open
    review items, one minute apart from 2026-01-01."""
    source = source or SourceFactory(name=f"{prefix}-source")
    version = version or ModelVersionFactory()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    txs = Transaction.objects.bulk_create(
        Transaction(
            source=source,
            transaction_id=f"{prefix}-{i:07d}",
            timestamp=start + timedelta(minutes=i),
            account_id=f"acct-{i % spread.accounts:05d}",
            amount=spread.amount(i),
            merchant_id=f"m-{i % spread.merchants:04d}",
            merchant_category=spread.categories[i % len(spread.categories)],
        )
        for i in range(count)
    )
    scores = Score.objects.bulk_create(
        Score(
            transaction=tx,
            model_version=version,
            score=spread.score(i),
            risk_level=spread.risk_levels[i % len(spread.risk_levels)],
            is_anomaly=True,
            reasons=spread.reasons(i),
            transaction_time=tx.timestamp,
        )
        for i, tx in enumerate(txs)
    )
    return ReviewItem.objects.bulk_create(
        ReviewItem(
            transaction=s.transaction, score=s, priority=review_priority(score=s.score, amount=s.transaction.amount)
        )
        for s in scores
    )
