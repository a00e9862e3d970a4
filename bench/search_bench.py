"""The search page (/search/) over 2,000,000 stored transactions: server time of each kind of search, median and p95
over repeated requests with a different value each time, and the number of queries (target < 300 ms, constant).

Loads its own database (`bench_search` unless TEST_DB_NAME is set): an organisation's 2,000,000 generated
transactions (100,000 accounts, 20,000 merchants of which a few very large, a device on 70% of rows, 180 days) plus
100,000 of another organisation, by COPY; one in fifty scored and queued. `--keep` leaves the database for the next
run, which then skips the load. Requests go through the whole Django stack in-process (middleware, session,
permissions, template): server time without the network.

    .venv/bin/python bench/search_bench.py [--rows 2000000] [--runs 30] [--keep]
"""

import argparse
import io
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "anomaly_site.test_settings")
os.environ.setdefault("TEST_DB_NAME", "bench_search")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/4")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Max, Min  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.models import Organisation  # noqa: E402
from accounts.services import membership_add  # noqa: E402
from detection.models import ModelVersion  # noqa: E402
from search.forms import position_text  # noqa: E402
from search.selectors import Criteria, transactions_search  # noqa: E402
from transactions.models import Source, Transaction  # noqa: E402
from transactions.partitions import transaction_months_ensure  # noqa: E402

ACCOUNTS, MERCHANTS, DAYS = 100_000, 20_000, 180
START = datetime(2026, 1, 1, tzinfo=UTC)
COLUMNS = (
    "source_id, transaction_id, timestamp, account_id, amount, currency, merchant_id, merchant_category, channel, "
    "country, device_id, attributes, label_source, ingested_at"
)
SECONDARY_INDEXES = ("tx_account_time", "tx_merchant_time", "tx_time", "tx_change_txid", "tx_device_time", "tx_amount")
CATEGORIES = ("grocery", "travel", "electronics", "fuel", "entertainment", "retail")


def frame(count: int, seed: int) -> pd.DataFrame:
    """`count` transactions as numbers (PostgreSQL spells them): merchants drawn by a Zipf law, so that the first few
    hold tens of thousands of rows; a device on 70% of rows, one or two per account."""
    rng = np.random.default_rng(seed)
    accounts = rng.integers(0, ACCOUNTS, count)
    return pd.DataFrame(
        {
            "n": np.arange(count),
            "seconds": np.sort(rng.integers(0, DAYS * 86_400, count)),
            "account": accounts,
            "merchant": np.minimum(rng.zipf(1.3, count) - 1, MERCHANTS - 1),
            "device": np.where(rng.random(count) < 0.7, accounts * 2 + (rng.random(count) < 0.1), -1),
            "amount": np.round(rng.lognormal(3.5, 1.2, count), 2),
        }
    )


STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS generated (n bigint, seconds int, account int, merchant int, device int,"
    " amount numeric(14, 2)); TRUNCATE generated"
)
SPELL = f"""
INSERT INTO transactions_transaction ({COLUMNS})
SELECT %(source)s, %(prefix)s || lpad(n::text, 8, '0'), %(start)s::timestamptz + seconds * interval '1 second',
       'A' || lpad(account::text, 6, '0'), amount, 'EUR', 'M' || lpad(merchant::text, 5, '0'),
       (%(categories)s::text[])[merchant %% 6 + 1], 'online', 'FR',
       CASE WHEN device < 0 THEN '' ELSE 'D' || lpad(device::text, 7, '0') END, '{{}}', '', now()
FROM generated"""  # noqa: S608 - constants


def copy_in(data: pd.DataFrame, *, source_id: int, prefix: str) -> None:
    """COPY the numbers into a staging table, then one INSERT … SELECT spells them as the store's columns."""
    text = io.StringIO()
    data.to_csv(text, index=False, header=False)
    text.seek(0)
    with connection.cursor() as cursor:
        cursor.execute(STAGE)
        with cursor.connection.cursor().copy("COPY generated FROM STDIN (FORMAT csv)") as copy:
            while block := text.read(1 << 20):
                copy.write(block)
        params = {"source": source_id, "prefix": prefix, "start": START, "categories": list(CATEGORIES)}
        cursor.execute(SPELL, params)


def load(rows: int) -> Organisation:
    organisation = Organisation.objects.create(name="bench")
    other = Organisation.objects.create(name="other")
    source = Source.objects.create(organisation=organisation, name="partner")
    Source.objects.create(organisation=organisation, name="uploads", kind=Source.Kind.UPLOAD)
    other_source = Source.objects.create(organisation=other, name="partner")
    version = ModelVersion.objects.create(organisation=organisation, version=1, status=ModelVersion.Status.ACTIVE)
    began = time.perf_counter()
    with connection.cursor() as cursor:
        # Faster built once after the load than kept up row by row: the table's own definitions, put back as they were.
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'transactions_transaction'"
            " AND indexname = ANY(%s)",
            [list(SECONDARY_INDEXES)],
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
        transaction_months_ensure(pd.date_range(START, periods=DAYS // 28 + 2, freq="28D").to_pydatetime())
        for part, start in enumerate(range(0, rows, 500_000)):
            copy_in(frame(min(500_000, rows - start), seed=part), source_id=source.pk, prefix=f"T{part}-")
        copy_in(frame(100_000, seed=99), source_id=other_source.pk, prefix="X")
        for _, definition in indexes:  # ON ONLY the parent would leave every partition without it
            cursor.execute(definition.replace(" ON ONLY ", " ON ", 1))
        cursor.execute(
            "INSERT INTO detection_score (transaction_id, model_version_id, score, risk_level, is_anomaly, components,"
            " reasons, decision, rules, created_at, transaction_time) SELECT id, %s, 0.96, 'high', true, '{}',"
            " '[\"large amount\"]', 'review', '[]', timestamp, timestamp FROM transactions_transaction"
            " WHERE source_id = %s AND id %% 50 = 0",
            [version.pk, source.pk],
        )
        cursor.execute(
            "INSERT INTO review_reviewitem (transaction_id, score_id, status, priority, created_at, decision, origin)"
            " SELECT transaction_id, id, 'open', score, created_at, '', 'live' FROM detection_score"
        )
        cursor.execute("VACUUM ANALYZE")
    print(f"loaded {Transaction.objects.count():,} transactions in {time.perf_counter() - began:.1f} s")
    return organisation


def samples(organisation: Organisation, runs: int) -> dict[str, list[str]]:
    """Per kind of search, `runs` query strings, each with a different value."""
    rng = random.Random(7)
    ours = Transaction.objects.filter(source__organisation=organisation)
    low, high = ours.aggregate(low=Min("pk"), high=Max("pk")).values()
    picks = list(ours.filter(pk__in=[rng.randint(low, high) for _ in range(runs * 2)]))
    big = [
        m for (m,) in ours.filter(merchant_id__in=["M00000", "M00001", "M00002"]).values_list("merchant_id").distinct()
    ]
    cursor = transactions_search(organisation_id=organisation.pk, criteria=Criteria(q="M00000")).next_after
    lows = [rng.choice([10, 50, 100, 500]) for _ in range(runs)]

    def each(make) -> list[str]:
        return ["?" + urlencode(make(i)) for i in range(runs)]

    return {
        "transaction id": each(lambda i: {"q": picks[i].transaction_id}),
        "account": each(lambda i: {"q": picks[i].account_id}),
        "merchant (random)": each(lambda i: {"q": picks[i].merchant_id}),
        "merchant (largest three)": each(lambda i: {"q": big[i % len(big)]}),
        "device": each(lambda i: {"q": picks[i].device_id or picks[i + runs].device_id or "D0000001"}),
        "no match": each(lambda i: {"q": f"nothing-{i}"}),
        "account + amount range": each(lambda i: {"q": picks[i].account_id, "min_amount": "20", "max_amount": "80"}),
        "largest merchant + 1 week + amount >= 500": each(
            lambda i: {
                "q": "M00000",
                "date_from": f"2026-03-{1 + i % 20:02d}",
                "date_to": f"2026-03-{8 + i % 20:02d}",
                "min_amount": "500",
            }
        ),
        "amount range, no term": each(lambda i: {"min_amount": str(lows[i]), "max_amount": str(lows[i] * 2)}),
        "rare amounts (>= 2,000), no term": each(lambda i: {"min_amount": str(2000 + i)}),
        "dates only (one day)": each(
            lambda i: {"date_from": f"2026-02-{1 + i % 28:02d}", "date_to": f"2026-02-{1 + i % 28:02d}"}
        ),
        "largest merchant, second page": each(lambda i: {"q": "M00000", "after": position_text(cursor)}),
    }


def measure(client: Client, urls: list[str]) -> dict[str, float]:
    """Wall time (median, p95), this process's CPU time and the time in SQL (medians) per request, and the most
    queries any request made."""
    for url in urls[:3]:
        client.get("/search/" + url)
    timings, cpu_ms, sql_ms, counts = [], [], [], set()
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            began, cpu = time.perf_counter(), time.process_time()
            response = client.get("/search/" + url)
            timings.append((time.perf_counter() - began) * 1000)
            cpu_ms.append((time.process_time() - cpu) * 1000)
        assert response.status_code == 200 and b'id="search-errors"' not in response.content, url
        counts.add(len(queries))
        sql_ms.append(sum(float(q["time"]) for q in queries.captured_queries) * 1000)
    timings.sort()
    return {
        "median": statistics.median(timings),
        "p95": timings[max(int(len(timings) * 0.95) - 1, 0)],
        "queries": max(counts),
        "cpu": statistics.median(cpu_ms),
        "sql": statistics.median(sql_ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the database (and reuse it next time)")
    args = parser.parse_args()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=args.keep, serialize=False)
    try:
        organisation = Organisation.objects.filter(name="bench").first() or load(args.rows)
        analyst, _ = User.objects.get_or_create(username="bench-analyst")
        analyst.groups.add(Group.objects.get(name="analyst"))
        membership_add(user=analyst, organisation=organisation)
        client = Client()
        client.force_login(analyst)
        load_avg = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        stored = Transaction.objects.filter(source__organisation=organisation).count()
        print(f"search over {stored:,} transactions of the organisation, {args.runs} runs a kind")
        print(f"machine: {os.cpu_count()} cores, load average {load_avg}")
        for label, urls in samples(organisation, args.runs).items():
            m = measure(client, urls)
            print(
                f"  {label:<42} median {m['median']:6.1f} ms  p95 {m['p95']:6.1f} ms  {m['queries']} queries"
                f"  ({m['sql']:.1f} ms in SQL, {m['cpu']:.1f} ms CPU here)"
            )
    finally:
        if not args.keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
