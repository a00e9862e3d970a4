"""Model-performance page figures: server time of the page and of one threshold-explorer update, and their query
counts, over 30 days of scores of an active version with a share of them labelled.

Run (uses its own database `bench_performance`, created and migrated on first run; the rows are rolled back):

    .venv/bin/python bench/performance_page_bench.py [--per-day 10000] [--days 30] [--runs 15]
"""

import argparse
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_common import bench_organisation, setup_own_database  # noqa: E402


def seed(*, days: int, per_day: int) -> None:
    """`days` × `per_day` scores of an active version; 5% labelled (fraud above 0.9, a few false alarms)."""
    import numpy as np
    from django.utils import timezone

    from detection.models import ModelVersion, RiskPolicy, Score
    from transactions.models import Source, Transaction

    rng = np.random.default_rng(0)
    organisation = bench_organisation()
    RiskPolicy.objects.create(organisation=organisation, comment="bench")
    version = ModelVersion.objects.create(
        organisation=organisation, version=1, status=ModelVersion.Status.ACTIVE, algorithms=["if", "ae"]
    )
    source = Source.objects.create(organisation=organisation, name="bench-performance")
    now = timezone.now()
    for day in range(days):
        at = now - timedelta(days=day, hours=1)
        scores = rng.beta(1.5, 6, per_day)
        labelled = rng.random(per_day) < 0.05
        rows = Transaction.objects.bulk_create(
            [
                Transaction(
                    source=source,
                    transaction_id=f"{day}-{i}",
                    timestamp=at,
                    account_id=f"a{i % 500}",
                    amount=Decimal("10.00"),
                    label=int(s > 0.9 or rng.random() < 0.01) if known else None,
                    label_source="reported" if known else "",
                    labelled_at=at if known else None,
                )
                for i, (s, known) in enumerate(zip(scores, labelled, strict=True))
            ],
            batch_size=5000,
        )
        stored = Score.objects.bulk_create(
            [
                Score(
                    transaction=tx,
                    transaction_time=tx.timestamp,
                    model_version=version,
                    score=float(s),
                    risk_level="low",
                    is_anomaly=bool(s >= 0.95),
                    components={"isolation_forest": float(s), "autoencoder": float(s) ** 2},
                )
                for tx, s in zip(rows, scores, strict=True)
            ],
            batch_size=5000,
        )
        Score.objects.filter(pk__in=[s.pk for s in stored]).update(created_at=at)


def measure(client, url: str, runs: int, params: dict | None = None) -> tuple[float, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url, params or {})  # warm caches and connections
    times = []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url, params or {})
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return statistics.median(times), max(times), len(queries)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-day", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    setup_own_database("bench_performance", REDIS_URL="redis://127.0.0.1:6379/7", CACHE_KEY_PREFIX="bench-performance")
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import transaction
    from django.test import Client

    from accounts.services import VIEWER, membership_add, roles_sync

    with transaction.atomic():
        started = time.perf_counter()
        seed(days=args.days, per_day=args.per_day)
        print(f"seeded {args.days * args.per_day:,} scores in {time.perf_counter() - started:.1f} s")
        roles_sync()
        user = get_user_model().objects.create(username="bench-viewer")
        user.groups.add(Group.objects.get(name=VIEWER))
        membership_add(user=user, organisation=bench_organisation())
        client = Client()
        client.force_login(user)
        page = measure(client, "/detection/performance/", args.runs)
        explore = {"review_threshold": 0.9, "medium": 0.8, "high": 0.95, "critical": 0.99, "window": 30}
        explorer = measure(client, "/detection/performance/explore/", args.runs, explore)
        print(f"performance page: median {page[0]:.0f} ms, max {page[1]:.0f} ms, {page[2]} queries")
        print(f"explorer (30 days): median {explorer[0]:.0f} ms, max {explorer[1]:.0f} ms, {explorer[2]} queries")
        transaction.set_rollback(True)


if __name__ == "__main__":
    main()
