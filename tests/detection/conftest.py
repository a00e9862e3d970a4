from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from tests.factories import default_organisation
from transactions.models import Channel, Source, Transaction

START = datetime(2026, 3, 1, tzinfo=UTC)


def history_source(organisation=None) -> Source:
    """The import source the stored histories come from, in the test organisation unless told otherwise."""
    source, _ = Source.objects.get_or_create(
        organisation=organisation or default_organisation(), name="test-history", defaults={"kind": Source.Kind.IMPORT}
    )
    return source


def store_history(
    *, accounts: int = 40, days: int = 20, per_day: int = 3, seed: int = 0, organisation=None
) -> list[Transaction]:
    """Stored, consistent per-account histories: each account spends around its own level at its own merchants."""
    rng = np.random.default_rng(seed)
    source = history_source(organisation)
    rows = []
    for a in range(accounts):
        level = rng.uniform(10, 120)
        home = (48 + rng.normal(0, 1), 2 + rng.normal(0, 1))
        merchants = [f"m-{(a * 7 + k) % 60:03d}" for k in range(4)]
        for day in range(days):
            for _ in range(rng.poisson(per_day)):
                rows.append(
                    Transaction(
                        source=source,
                        transaction_id=f"h-{a}-{len(rows)}",
                        timestamp=START + timedelta(days=day, seconds=int(rng.uniform(8 * 3600, 21 * 3600))),
                        account_id=f"acct-{a:03d}",
                        amount=Decimal(str(round(max(1.0, rng.normal(level, level / 4)), 2))),
                        merchant_id=str(rng.choice(merchants)),
                        merchant_category="grocery",
                        channel=Channel.IN_PERSON,
                        latitude=home[0] + rng.normal(0, 0.05),
                        longitude=home[1] + rng.normal(0, 0.05),
                        country="FR",
                    )
                )
    return Transaction.objects.bulk_create(rows)


def store_transaction(
    *, account_id: str, amount: str, at: datetime, merchant_id: str = "m-999", organisation=None, **fields
):
    source = history_source(organisation)
    defaults = {"channel": Channel.IN_PERSON, "merchant_category": "grocery", "country": "FR"}
    return Transaction.objects.create(
        source=source,
        transaction_id=f"new-{account_id}-{at.timestamp():.0f}-{amount}",
        timestamp=at,
        account_id=account_id,
        amount=Decimal(amount),
        merchant_id=merchant_id,
        **(defaults | fields),
    )


@pytest.fixture
def history(db):
    return store_history()
