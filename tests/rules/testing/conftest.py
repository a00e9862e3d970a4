"""A small known history for tests on history: ten transactions of the test organisation over three days (and
one of another organisation), some labelled, some scored, some carrying an attribute."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from rules.policy import services
from tests.factories import ModelVersionFactory, ScoreFactory, SourceFactory, TransactionFactory

UNTIL = datetime(2026, 3, 10, tzinfo=UTC)
DAY1, DAY2, DAY3 = (UNTIL - timedelta(days=d) for d in (3, 2, 1))

# (day, amount, label, stored score, attributes): amount > 500 matches five of them.
ROWS = [
    (DAY1, "600", 1, 0.99, {"mcc": "7995"}),  # hit, fraud, flagged
    (DAY1, "700", 0, 0.50, {}),  # hit, legitimate
    (DAY1, "20", None, None, {"mcc": "5411"}),
    (DAY2, "800", 1, 0.96, {"mcc": "5411"}),  # hit, fraud, flagged
    (DAY2, "30", 0, 0.97, {}),  # flagged, no hit
    (DAY2, "40", None, 0.10, {}),
    (DAY3, "900", None, 0.20, {"mcc": "7995"}),  # hit, unlabelled
    (DAY3, "550", 0, None, {}),  # hit, legitimate
    (DAY3, "10", None, None, {}),
    (DAY3, "15", 1, None, {}),
]


@pytest.fixture
def known_history(organisation, other_organisation):
    source = SourceFactory(organisation=organisation, name="history")
    version = ModelVersionFactory(organisation=organisation)
    stored = []
    for k, (day, amount, label, score, attributes) in enumerate(ROWS):
        tx = TransactionFactory(
            source=source,
            transaction_id=f"known-{k}",
            account_id=f"acct-{k % 3}",
            timestamp=day + timedelta(hours=10, minutes=k),
            amount=Decimal(amount),
            label=label,
            labelled_at=None if label is None else day + timedelta(hours=12),
            attributes=attributes,
        )
        if score is not None:
            ScoreFactory(transaction=tx, model_version=version, score=score)
        stored.append(tx)
    # Outside the window, and another organisation's big payment: neither is read.
    TransactionFactory(source=source, transaction_id="old", timestamp=UNTIL - timedelta(days=40), amount=Decimal(999))
    other = SourceFactory(organisation=other_organisation, name="theirs")
    TransactionFactory(source=other, transaction_id="theirs", timestamp=DAY2, amount=Decimal(5000))
    return stored


def draft(organisation, expression="amount > 500", name="big", action="review"):
    return services.rule_create(organisation_id=organisation.pk, name=name, expression=expression, action=action)


def active(organisation, expression, name, action="review"):
    version = draft(organisation, expression=expression, name=name, action=action)
    return services.rule_publish(rule=version.rule, untested=True)
