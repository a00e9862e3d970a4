"""Cases built the way detection builds them: flagged scores queued for review join their account's case."""

import pytest

from review.services import review_items_create_for_scores
from tests.factories import ScoreFactory, SourceFactory, TransactionFactory


def flag(account_id: str = "acct-case", *, merchant_id: str = "m-1", device_id: str = "", amount: str = "120.00", **tx):
    """One flagged transaction of the account, queued as detection queues it; returns its review item."""
    transaction = TransactionFactory(
        source=SourceFactory(name="case-bank"),
        account_id=account_id,
        merchant_id=merchant_id,
        device_id=device_id,
        amount=amount,
        **tx,
    )
    score = ScoreFactory(transaction=transaction, reasons=["amount 7.4x this account's median", "new device"])
    return review_items_create_for_scores(scores=[score])[0]


@pytest.fixture
def case_items(db):
    """Three flagged transactions of one account: one case."""
    items = [flag(amount=str(100 + i)) for i in range(3)]
    for item in items:
        item.refresh_from_db()
    return items
