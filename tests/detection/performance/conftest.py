"""A small hand-made world of scores and labels whose explorer figures can be counted by hand.

Under the active version, today: 0.30 (legitimate), 0.90 (legitimate), 0.96 (fraud);
yesterday: 0.50 (fraud), 0.70 (unlabelled), 0.98 (fraud), 0.99 (unlabelled).
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from detection.models import ModelVersion, Score
from detection.policy.selectors import risk_policy_invalidate
from tests.factories import (
    ModelVersionFactory,
    ReviewItemFactory,
    RiskPolicyFactory,
    ScoreFactory,
    TransactionFactory,
)
from transactions.models import LabelSource

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)

TODAY = [(0.30, 0), (0.90, 0), (0.96, 1)]
YESTERDAY = [(0.50, 1), (0.70, None), (0.98, 1), (0.99, None)]


@pytest.fixture
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def labelled_score(version: ModelVersion, value: float, label: int | None, *, at: datetime, source=LabelSource.REVIEW):
    tx = TransactionFactory(
        label=label,
        label_source=source if label is not None else "",
        labelled_at=at if label is not None else None,
    )
    score = ScoreFactory(transaction=tx, model_version=version, score=value, is_anomaly=value >= 0.95)
    Score.objects.filter(pk=score.pk).update(created_at=at)
    if score.is_anomaly:
        ReviewItemFactory(score=score, transaction=tx)
    return score


@pytest.fixture
def policy(db):
    return RiskPolicyFactory(medium=0.8, high=0.95, critical=0.99, review_threshold=0.95)


@pytest.fixture
def scored_world(db, frozen_now, policy):
    version = ModelVersionFactory(status=ModelVersion.Status.ACTIVE, version=3)
    for value, label in TODAY:
        labelled_score(version, value, label, at=frozen_now - timedelta(hours=1))
    for value, label in YESTERDAY:
        labelled_score(version, value, label, at=frozen_now - timedelta(days=1))
    return version


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture(autouse=True)
def _fresh_policy_cache():
    """The policy in force is cached per process; each test starts from its own rows."""
    risk_policy_invalidate()
    yield
    risk_policy_invalidate()


@pytest.fixture(autouse=True)
def _a_handful_of_labels_is_enough(settings):
    """The worlds here hold a handful of labels so their figures can be counted by hand; the minimum the page asks
    for in use (PERFORMANCE_MIN_LABELS) is tested on its own in test_min_labels.py."""
    settings.PERFORMANCE_MIN_LABELS = 1
