"""Fixtures of the detection tests: stored histories, partner API clients per scope, and a trained active model.

`history` here is the small history the session's model is trained on (scoring, jobs, the performance page);
the training tests override it with a larger one (tests/detection/training/conftest.py).
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.db import transaction
from rest_framework.test import APIClient

from accounts.services import partner_token_create, partner_token_revoke
from detection.models import ModelVersion
from detection.scoring import registry
from detection.training.services import model_version_train
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


MODEL_FIELDS = ("algorithms", "parameters", "feature_names", "metrics", "artifact", "artifact_format", "training_rows")


def prototype_body(n: int = 1, **changes) -> dict:
    """A request body exactly as the prototype's README sends it (user_id, is_online, transaction_count_1h, …)."""
    body = {
        "transaction_id": f"TXN_{n:08d}",
        "timestamp": "2026-03-21 14:30:00",
        "amount": 150.50,
        "merchant_category": "retail",
        "location_distance_km": 5.2,
        "is_online": 0,
        "time_since_last_transaction_minutes": 120.0,
        "is_weekend": 0,
        "hour": 14,
        "day_of_week": 3,
        "transaction_count_1h": 2,
        "total_amount_24h": 300.0,
        "user_id": 1234,
    }
    return body | changes


def client_for(secret: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return api


@pytest.fixture
def make_partner(db):
    """A client with a fresh partner token of the given scopes (and its own source)."""

    def make(*scopes: str, name: str = "acme-bank") -> APIClient:
        token, secret = partner_token_create(name=name, scopes=list(scopes), organisation=default_organisation())
        api = client_for(secret)
        api.token = token
        return api

    return make


@pytest.fixture
def scorer(make_partner):
    return make_partner("score", "label", "read")


@pytest.fixture
def other_partner(make_partner):
    return make_partner("score", "label", "read", name="other-bank")


@pytest.fixture
def revoked_client(make_partner):
    api = make_partner("score", "label", "read")
    partner_token_revoke(token=api.token)
    return api


@pytest.fixture
def outsider_client(client, outsider):
    client.force_login(outsider)
    return client


@pytest.fixture(scope="session")
def trained_model(django_db_setup, django_db_blocker) -> dict:
    """Train once per session on a small consistent history, keep the fitted artifact, undo the rows."""
    with django_db_blocker.unblock(), transaction.atomic():
        store_history(accounts=20, days=10)
        version = model_version_train(organisation=default_organisation(), until=START + timedelta(days=10), seed=0)
        fields = {name: getattr(version, name) for name in MODEL_FIELDS}
        transaction.set_rollback(True)
    fields["artifact"] = bytes(fields["artifact"])
    return fields


@pytest.fixture
def history(db):
    return store_history(accounts=20, days=10)


@pytest.fixture
def active_model(db, trained_model, history) -> ModelVersion:
    """The session's trained model, active, over the history it was trained on."""
    registry.active_model_changed()
    version = ModelVersion.objects.create(
        organisation=default_organisation(), version=7, status=ModelVersion.Status.ACTIVE, **trained_model
    )
    registry.active_model_changed()
    yield version
    registry.active_model_changed()


@pytest.fixture
def no_active_model(db):
    registry.active_model_changed()
    yield
    registry.active_model_changed()


@pytest.fixture
def unreadable_active_model(no_active_model) -> ModelVersion:
    """An active v9 whose artifact is of a format this release cannot read (999)."""
    version = ModelVersion.objects.create(
        organisation=default_organisation(),
        version=9,
        status=ModelVersion.Status.ACTIVE,
        artifact=b"?",
        artifact_format=999,
    )
    registry.active_model_changed()
    return version
