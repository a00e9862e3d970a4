"""Fixtures of the drift tests: the session's trained model, active, with its training window, and days of
transactions like its training traffic or shifted from it."""

from datetime import timedelta

import numpy as np
import pytest

from detection.models import ModelVersion
from tests.detection.conftest import START, active_model, history, store_transaction, trained_model  # noqa: F401 - fixtures
from transactions.models import Transaction

TRAINING_DAYS = 10
LIKE_DAY = START + timedelta(days=TRAINING_DAYS + 1)  # a day after the training window


@pytest.fixture
def drift_model(active_model) -> ModelVersion:  # noqa: F811 - the fixture imported above
    """The active version, trained on the history's ten days (its training window)."""
    active_model.training_start = START
    active_model.training_end = START + timedelta(days=TRAINING_DAYS)
    active_model.save(update_fields=["training_start", "training_end"])
    return active_model


def store_day(*, day, scale: float = 1.0, seed: int = 1, organisation=None, rows: int = 80) -> list[Transaction]:
    """A day of transactions drawn from the stored history (same accounts, merchants, hours), amounts times `scale`."""
    earlier = list(Transaction.objects.filter(timestamp__lt=day).order_by("pk"))
    picked = np.random.default_rng(seed).choice(len(earlier), size=rows, replace=False)
    stored = []
    for i in picked:
        old = earlier[i]
        stored.append(
            store_transaction(
                account_id=old.account_id,
                amount=f"{float(old.amount) * scale:.2f}",
                at=day + timedelta(hours=old.timestamp.hour, minutes=old.timestamp.minute, seconds=int(i) % 60),
                merchant_id=old.merchant_id,
                organisation=organisation,
                latitude=old.latitude,
                longitude=old.longitude,
            )
        )
    return stored
