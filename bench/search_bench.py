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
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.models import Organisation  # noqa: E402
from accounts.services import membership_add  # noqa: E402
from detection.models import ModelVersion  # noqa: E402
from search.forms import position_text  # noqa: E402
from search.selectors import Criteria, transactions_search  # noqa: E402
from transactions.models import Source, Transaction  # noqa: E402

ACCOUNTS, MERCHANTS, DAYS = 100_000, 20_000, 180
START = pd.Timestamp("2026-01-01", tz="UTC")
COLUMNS = (
    "source_id, transaction_id, timestamp, account_id, amount, currency, merchant_id, merchant_category, channel, "
    "country, device_id, attributes, label_source, ingested_at"
)
CATEGORIES = np.array(["grocery", "travel", "electronics", "fuel", "entertainment", "retail"])


def frame(count: int, source_id: int, prefix: str, seed: int) -> pd.DataFrame:
    """`count` transactions: merchants drawn by a Zipf law (the first few hold tens of thousands of rows)."""
    rng = np.random.default_rng(seed)
    accounts = rng.integers(0, ACCOUNTS, count)
    merchants = np.minimum(rng.zipf(1.3, count) - 1, MERCHANTS - 1)
    seconds = np.sort(rng.integers(0, DAYS * 86_400, count))
    devices = np.where(rng.random(count) < 0.7, accounts * 2 + (rng.random(count) < 0.1), -1)
    return pd.DataFrame(
        {
            "source_id": source_id,
            "transaction_id": [f"{prefix}{i:08d}" for i in range(count)],
            "timestamp": START + pd.to_timedelta(seconds, unit="s"),
            "account_id": [f"A{a:06d}" for a in accounts],
            "amount": np.round(rng.lognormal(3.5, 1.2, count), 2),
            "currency": "EUR",
            "merchant_id": [f"M{m:05d}" for m in merchants],
            "merchant_category": CATEGORIES[merchants % len(CATEGORIES)],
            "channel": "online",
            "country": "FR",
            "device_id": ["" if d < 0 else f"D{d:07d}" for d in devices],
            "attributes": "{}",
            "label_source": "",
            "ingested_at": pd.Timestamp.now(tz="UTC"),
        }
    )


COPY = f"COPY transactions_transaction ({COLUMNS}) FROM STDIN (FORMAT csv, FORCE_NOT_NULL (device_id, label_source))"


def copy_in(data: pd.DataFrame) -> None:
    text = io.StringIO()
    data.to_csv(text, index=False, header=False)
    text.seek(0)
    with connection.cursor() as cursor, cursor.connection.cursor().copy(COPY) as copy:
        while block := text.read(1 << 20):
            copy.write(block)


def load(rows: int) -> Organisation:
    organisation = Organisation.objects.create(name="bench")
    other = Organisation.objects.create(name="other")
    source = Source.objects.create(organisation=organisation, name="partner")
    Source.objects.create(organisation=organisation, name="uploads", kind=Source.Kind.UPLOAD)
    other_source = Source.objects.create(organisation=other, name="partner")
    version = ModelVersion.objects.create(organisation=organisation, version=1, status=ModelVersion.Status.ACTIVE)
    began = time.perf_counter()
    for part, start in enumerate(range(0, rows, 500_000)):
        copy_in(frame(min(500_000, rows - start), source.pk, f"T{part}-", seed=part))
    copy_in(frame(100_000, other_source.pk, "X", seed=99))
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO detection_score (transaction_id, model_version_id, score, risk_level, is_anomaly, components,"
            " reasons, decision, rules, created_at) SELECT id, %s, 0.96, 'high', true, '{}', '[\"large amount\"]',"
            " 'review', '[]', timestamp FROM transactions_transaction WHERE source_id = %s AND id %% 50 = 0",
            [version.pk, source.pk],
        )
        cursor.execute(
            "INSERT INTO review_reviewitem (transaction_id, score_id, status, priority, created_at, decision)"
            " SELECT transaction_id, id, 'open', score, created_at, '' FROM detection_score"
        )
        cursor.execute("VACUUM ANALYZE")
    print(f"loaded {Transaction.objects.count():,} transactions in {time.perf_counter() - began:.1f} s")
    return organisation


def samples(organisation: Organisation, runs: int) -> dict[str, list[str]]:
    """Per kind of search, `runs` query strings, each with a different value."""
    rng = random.Random(7)
    ours = Transaction.objects.filter(source__organisation=organisation)
    picks = list(ours.filter(pk__in=[rng.randrange(1, 2_000_000) for _ in range(runs * 3)])[: runs * 2])
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


def measure(client: Client, urls: list[str]) -> tuple[float, float, int, float]:
    for url in urls[:3]:
        client.get("/search/" + url)
    timings, sql_ms, counts = [], [], set()
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            began = time.perf_counter()
            response = client.get("/search/" + url)
            timings.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200 and not response.context["form"].errors, url
        counts.add(len(queries))
        sql_ms.append(sum(float(q["time"]) for q in queries.captured_queries) * 1000)
    timings.sort()
    p95 = timings[max(int(len(timings) * 0.95) - 1, 0)]
    return statistics.median(timings), p95, max(counts), statistics.median(sql_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the database (and reuse it next time)")
    args = parser.parse_args()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=args.keep)
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
            median, p95, queries, sql = measure(client, urls)
            print(
                f"  {label:<44} median {median:6.1f} ms   p95 {p95:6.1f} ms   {queries} queries ({sql:.1f} ms in SQL)"
            )
    finally:
        if not args.keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
