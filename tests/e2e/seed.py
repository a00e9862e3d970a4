"""A small, realistic queue for the browser tests: varied risks, amounts, merchants and reasons."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from detection.models import Score
from review.models import ReviewItem
from review.services import review_items_create_for_scores
from tests.factories import ModelVersionFactory, ScoreFactory, SourceFactory, TransactionFactory

NOW = datetime.now(tz=UTC)
CASES = [
    (
        "acct-1042",
        "m-travelnow",
        "travel",
        "2480.00",
        0.995,
        "critical",
        [
            "amount 14.2x this account's median (174.60 EUR)",
            "first transaction from this device",
            "1,840 km from the account's usual location",
        ],
    ),
    (
        "acct-2210",
        "m-electro24",
        "electronics",
        "1299.99",
        0.983,
        "high",
        ["5 transactions in the last hour (usual: 0-1)", "new merchant for this account"],
    ),
    (
        "acct-0871",
        "m-giftcards",
        "gift_cards",
        "500.00",
        0.971,
        "high",
        ["gift-card merchant at 03:12, outside the account's active hours"],
    ),
    ("acct-3307", "m-quickfuel", "fuel", "96.40", 0.962, "high", ["card-present after an online purchase abroad"]),
    ("acct-1550", "m-luxwatch", "jewellery", "8900.00", 0.958, "medium", ["amount above the 99.9th percentile"]),
    ("acct-0412", "m-grocer", "grocery", "212.35", 0.952, "medium", ["merchant category never used before"]),
]


def account_history(account_id: str, merchant_id: str, around: datetime, count: int = 24) -> None:
    source = SourceFactory(name="e2e-bank")
    for i in range(count):
        TransactionFactory(
            source=source,
            account_id=account_id,
            merchant_id=(merchant_id if i % 6 == 0 else f"m-local-{i % 4}"),
            merchant_category="grocery",
            amount=Decimal(str(40 + (i * 37) % 260)),
            timestamp=around - timedelta(days=count - i, hours=i % 5),
        )


def seed_queue(*, age_minutes: tuple[int, ...] = (300, 130, 75, 40, 12, 3)) -> list[ReviewItem]:
    """Six flagged transactions in the queue (oldest first in age), the first with an account history."""
    version = ModelVersionFactory(status="active")
    source = SourceFactory(name="e2e-bank")
    account_history(CASES[0][0], CASES[0][1], NOW - timedelta(hours=6))
    scores = []
    for (account, merchant, category, amount, value, risk, reasons), minutes in zip(CASES, age_minutes, strict=True):
        tx = TransactionFactory(
            source=source,
            account_id=account,
            merchant_id=merchant,
            merchant_category=category,
            amount=Decimal(amount),
            timestamp=NOW - timedelta(minutes=minutes + 2),
            country="PT",
            channel="online",
        )
        scores.append(
            ScoreFactory(
                transaction=tx,
                model_version=version,
                score=value,
                risk_level=risk,
                reasons=reasons,
                components={"isolation_forest": value - 0.01, "autoencoder": value + 0.004},
            )
        )
    items = review_items_create_for_scores(scores=scores)
    for item, minutes in zip(sorted(items, key=lambda i: -i.priority), age_minutes, strict=True):
        ReviewItem.objects.filter(pk=item.pk).update(created_at=NOW - timedelta(minutes=minutes))
    return sorted(items, key=lambda i: -i.priority)


def flag_new_transaction(*, account_id: str = "acct-9001", amount: str = "3150.00") -> ReviewItem:
    """What detection does when it flags a transaction: a score, then an item broadcast after commit."""
    tx = TransactionFactory(
        source=SourceFactory(name="e2e-bank"),
        account_id=account_id,
        merchant_id="m-cryptox",
        merchant_category="crypto",
        amount=Decimal(amount),
        timestamp=datetime.now(tz=UTC),
    )
    score = ScoreFactory(
        transaction=tx,
        score=0.999,
        risk_level=Score.RiskLevel.CRITICAL,
        reasons=["crypto exchange never used by this account", "amount 21x the account's median"],
    )
    return review_items_create_for_scores(scores=[score])[0]
