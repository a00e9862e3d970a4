"""Server time to render the review queue with 10,000 open items: median and p95 over repeated requests.

Runs against a throw-away database (`bench_review` unless TEST_DB_NAME is set), created, filled and dropped here.
The request goes through the whole Django stack (middleware, session, permissions, template) in-process, so
the figure is server time without the network.

    .venv/bin/python bench/review_queue_bench.py [--items 10000] [--runs 40]
"""

import argparse
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "anomaly_site.test_settings")
os.environ.setdefault("TEST_DB_NAME", "bench_review")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/4")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.models import Organisation  # noqa: E402
from accounts.services import membership_add  # noqa: E402
from detection.models import ModelVersion  # noqa: E402
from review.models import ReviewItem  # noqa: E402
from tests.review.bulk import Spread, bulk_open_items  # noqa: E402
from transactions.models import Source  # noqa: E402

VARIANTS = {
    "full page, default filters": ("/review/", {}),
    "htmx table partial": ("/review/", {"HX-Request": "true"}),
    "sorted by amount, amount >= 100": ("/review/?sort=amount&min_amount=100", {}),
    "page 100": ("/review/?page=100", {}),
}


# The queue's rows: many accounts and merchants, amounts spread up to 5,000, high and critical risk in turn.
QUEUE_SPREAD = Spread(
    accounts=2000,
    merchants=300,
    categories=("travel", "grocery", "electronics", "fuel"),
    amount=lambda i: Decimal(5 + (i * 7919) % 5000),
    score=lambda i: 0.95 + (i % 500) / 10_000,
    risk_levels=("high", "critical"),
    reasons=lambda i: ["amount 6.1x this account's median", "new device"],
)


def fill(count: int, organisation: Organisation) -> None:
    source = Source.objects.create(organisation=organisation, name="bench")
    version = ModelVersion.objects.create(organisation=organisation, version=1, status=ModelVersion.Status.ACTIVE)
    bulk_open_items(count, prefix="b", source=source, version=version, spread=QUEUE_SPREAD)
    with connection.cursor() as cursor:  # as autovacuum would after a bulk load
        cursor.execute("ANALYZE")


def measure(client: Client, url: str, headers: dict, runs: int) -> tuple[float, float, int, float]:
    for _ in range(3):
        client.get(url, headers=headers)
    timings = []
    for _ in range(runs):
        began = time.perf_counter()
        response = client.get(url, headers=headers)
        timings.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.status_code
    sql_ms = []
    for _ in range(5):
        with CaptureQueriesContext(connection) as queries:
            client.get(url, headers=headers)
        sql_ms.append(sum(float(q["time"]) for q in queries.captured_queries) * 1000)
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95) - 1], len(queries), statistics.median(sql_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        organisation = Organisation.objects.create(name="demo")
        fill(args.items, organisation)
        analyst = User.objects.create_user("bench-analyst", password=None)
        analyst.groups.add(Group.objects.get(name="analyst"))
        membership_add(user=analyst, organisation=organisation)
        client = Client()
        client.force_login(analyst)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"review queue, {ReviewItem.objects.filter(status='open').count():,} open items, {args.runs} runs each")
        print(f"machine: {os.cpu_count()} cores, load average {load}")
        for label, (url, headers) in VARIANTS.items():
            median, p95, queries, sql = measure(client, url, headers, args.runs)
            print(
                f"  {label:<34} median {median:6.1f} ms   p95 {p95:6.1f} ms   {queries} queries ({sql:.1f} ms in SQL)"
            )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
