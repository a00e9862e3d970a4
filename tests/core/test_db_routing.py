"""DATABASE_REPLICA_URL: pages' GETs read lag-tolerant rows from the replica; writes, the API, logins and roles read the
primary. The test settings' `replica` alias mirrors the test database; these tests install the router over it."""

import json
import os
import subprocess
import sys
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

from core.db_routing import ReplicaRouter, is_replica_request
from review.models import ReviewItem
from tests.factories import ReviewItemFactory, ScoreFactory, TransactionFactory
from transactions.models import Transaction

# Transactional: the replica's connection is another connection, which sees only committed rows (as a real one).
pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
    pytest.mark.usefixtures("routed"),
]
QUEUE = reverse("review:queue")


@pytest.fixture
def routed():
    with override_settings(DATABASE_ROUTERS=["core.db_routing.ReplicaRouter"]):
        yield


def _tables(captured) -> str:
    return " ".join(query["sql"] for query in captured.captured_queries)


def test_a_page_reads_the_queue_from_the_replica(analyst_client):
    tx = TransactionFactory(amount=Decimal("4321.00"), account_id="acct-replica")
    ReviewItemFactory(score=ScoreFactory(transaction=tx))
    with (
        CaptureQueriesContext(connections["replica"]) as replica,
        CaptureQueriesContext(connections["default"]) as primary,
    ):
        response = analyst_client.get(QUEUE)
    assert response.status_code == 200
    assert "acct-replica" in response.content.decode()
    assert '"review_reviewitem"' in _tables(replica)
    assert '"review_reviewitem"' not in _tables(primary)


def test_the_session_and_the_user_of_a_page_come_from_the_primary(analyst_client):
    with (
        CaptureQueriesContext(connections["replica"]) as replica,
        CaptureQueriesContext(connections["default"]) as primary,
    ):
        assert analyst_client.get(QUEUE).status_code == 200
    assert '"django_session"' in _tables(primary) and '"auth_user"' in _tables(primary)
    assert '"django_session"' not in _tables(replica) and '"auth_user"' not in _tables(replica)


def test_a_post_reads_and_writes_the_primary_only(analyst_client):
    item = ReviewItemFactory()
    with CaptureQueriesContext(connections["replica"]) as replica:
        response = analyst_client.post(reverse("review:claim", args=[item.pk]))
    assert response.status_code in (200, 302)
    assert replica.captured_queries == []
    assert ReviewItem.objects.get(pk=item.pk).assignee is not None


def test_the_partner_api_reads_the_primary_only(partner_client):
    with CaptureQueriesContext(connections["replica"]) as replica:
        response = partner_client.get("/api/v1/transactions")
    assert response.status_code == 200
    assert replica.captured_queries == []


def test_a_read_inside_a_transaction_stays_on_the_primary():
    router = ReplicaRouter()
    from core import db_routing

    token = db_routing._replica_reads.set(True)
    try:
        assert router.db_for_read(Transaction) == "replica"
        with transaction.atomic():
            assert router.db_for_read(Transaction) is None
    finally:
        db_routing._replica_reads.reset(token)


def test_migrations_never_run_on_the_replica():
    router = ReplicaRouter()
    assert router.allow_migrate("replica", "transactions") is False
    assert router.allow_migrate("default", "transactions") is True


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/review/", True),
        ("HEAD", "/search/", True),
        ("POST", "/review/", False),
        ("GET", "/api/v1/transactions/", False),
        ("GET", "/healthz", False),
        ("GET", "/metrics", False),
        ("GET", "/accounts/login/", False),
    ],
)
def test_which_requests_read_the_replica(method, path, expected):
    assert is_replica_request(method, path) is expected


def test_the_setting_adds_the_alias_and_the_router_and_nothing_without_it():
    probe = (
        "import json, django; from django.conf import settings; django.setup();"
        "print(json.dumps([sorted(settings.DATABASES), settings.DATABASE_ROUTERS,"
        " settings.DATABASES.get('replica', {}).get('NAME')]))"
    )
    base = {k: v for k, v in os.environ.items() if k != "DATABASE_REPLICA_URL"}
    base["DJANGO_SETTINGS_MODULE"] = "anomaly_site.settings"
    run = lambda env: json.loads(  # noqa: E731
        subprocess.run(
            [sys.executable, "-c", probe], env=env, cwd=settings.BASE_DIR, check=True, capture_output=True, text=True
        ).stdout
    )
    assert run(base) == [["default"], [], None]
    with_replica = run({**base, "DATABASE_REPLICA_URL": "postgres://reader@10.0.0.9:5432/anomaly_ro"})
    assert with_replica == [["default", "replica"], ["core.db_routing.ReplicaRouter"], "anomaly_ro"]
