"""Partitioning costs nothing visible: the same measures on a store of 1,000,000 and one of 20,000,000 transactions.

Builds (once; `build`) two databases, <name>_1m and <name>_20m, migrated, with one organisation and source and
generated transactions at one rate (below; SQL generate_series, never the API), then (`run`) measures each in
blocks in ABBA order, every block a fresh process on its database:

- single: one new transaction stored through ingest (`transactions.bulk.insert_rows`, its own commit): median, p99;
- batch: 1,000 new transactions at once: rows per second;
- history: an account's 30 days before a moment, for 100 accounts at once (the history read's query shape);
  every path at times within the store's last month, as live traffic, with the last two months' partitions warm;
- score_single / score_batch: the partner API's services (`transaction_score`, `transactions_score_batch` of 1,000),
  stored and scored by a model trained at build time on the last month, at times within the last month.

Both stores are the same business at two ages: the same traffic a day (20,000,000 rows over 24 months), the same
200,000 accounts and 4,000 merchants, both ending on the same day; the smaller one began 36 days before that end, the
larger two years before. Their last month (the partition live traffic writes and reads) holds the same rows: the
comparison is the store's age, which partitioning must make cost nothing, not how busy the business is.

    .venv/bin/python bench/partition_bench.py build --rows 1000000,20000000
    .venv/bin/python bench/partition_bench.py run --rounds 2
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
MONTHS = 24
FIRST = datetime(2024, 12, 1, tzinfo=UTC)  # the largest store's first day
END = FIRST + timedelta(days=30.4 * MONTHS)  # every store's end, before today: no future time
ROWS_A_SECOND = 20_000_000 / (END - FIRST).total_seconds()
ACCOUNTS, MERCHANTS = 200_000, 4_000
CHUNK = 1_000_000


def span_seconds(rows: int) -> int:
    """How long the business took to store `rows`, at its one rate."""
    return int(rows / ROWS_A_SECOND)


def database_url(size: str) -> str:
    base = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sentinel"))
    return urlunsplit(base._replace(path=f"{base.path.rstrip('/')}_pbench_{size}"))


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "anomaly_site.settings")
    import django

    django.setup()


def label(rows: int) -> str:
    return f"{rows // 1_000_000}m" if rows >= 1_000_000 else f"{rows // 1000}k"


def build(rows: int) -> None:
    url = database_url(label(rows))
    name = urlsplit(url).path.lstrip("/")
    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {name}"], check=True)
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True)
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], check=True, env=env)
    subprocess.run([sys.executable, __file__, "fill", "--rows", str(rows)], check=True, env=env)
    subprocess.run([sys.executable, __file__, "model"], check=True, env=env)


def train() -> None:
    """A model trained on the store's last month (the newest 50,000 rows of it), activated."""
    setup_django()
    from accounts.models import Organisation
    from detection.training.services import model_version_activate, model_version_train

    organisation = Organisation.objects.get(name="pbench")
    until = END
    version = model_version_train(
        organisation=organisation, since=until - timedelta(days=30), until=until, max_rows=50_000, seed=0
    )
    model_version_activate(version=version)
    print("model", version.version, version.training_rows, flush=True)


def fill(rows: int) -> None:
    setup_django()
    from django.db import connection

    from accounts.models import Organisation
    from transactions.models import Source
    from transactions.partitions import transaction_months_ensure

    organisation = Organisation.objects.create(name="pbench")
    source = Source.objects.create(organisation=organisation, name="pbench")
    first = END - timedelta(seconds=span_seconds(rows))
    months = [first + timedelta(days=31 * m) for m in range(MONTHS + 1) if first + timedelta(days=31 * m) <= END]
    months.append(END)
    transaction_months_ensure(months)
    span = span_seconds(rows)
    for start in range(0, rows, CHUNK):
        count = min(CHUNK, rows - start)
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO transactions_transaction (source_id, transaction_id, timestamp, account_id, amount,"
                " currency, merchant_id, merchant_category, channel, country, device_id, attributes, label_source,"
                " ingested_at)"
                " SELECT %s, 'g' || g, %s::timestamptz + (g::bigint * %s / %s) * interval '1 second',"
                " 'acct-' || (hashint4(g) & 2147483647) %% %s, (g %% 5000) / 10.0 + 1, 'EUR',"
                " 'm-' || (hashint4(g + 7) & 2147483647) %% %s, 'retail', 'online', 'FR', '', '{}', '', now()"
                " FROM generate_series(%s, %s) g",
                [source.pk, first, span, rows, ACCOUNTS, MERCHANTS, start + 1, start + count],
            )
        print(f"{start + count:,} rows", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE transactions_transaction")
        cursor.execute("VACUUM ANALYZE transactions_transactionkey")


def warm_recent(since: datetime) -> None:
    """The partitions from `since` on, and their indexes, read once into the OS's cache (pg_prewarm): a live store's
    recent months are hot, being written and read all day; a store just built holds them only by chance (20,000,000
    rows do not fit the cache of this machine, 1,000,000 do), which would measure the disk instead of the store."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        cursor.execute(
            "SELECT sum(pg_prewarm(c.oid, 'read')) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhrelid"
            " JOIN pg_class c ON c.oid = p.oid OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = p.oid)"
            " WHERE i.inhparent = 'transactions_transaction'::regclass AND p.relname >= %s",
            [f"transactions_transaction_p{since:%Y_%m}"],
        )


def measure(rows: int, singles: int, batches: int, histories: int) -> dict:
    setup_django()
    import random

    from django.db import connection, transaction

    from transactions import bulk
    from transactions.models import Source

    source = Source.objects.get(name="pbench")
    rng, run = random.Random(), f"{os.getpid()}-{time.time_ns()}"
    accounts, merchants, end = ACCOUNTS, MERCHANTS, END
    warm_recent(end - timedelta(days=61))

    def recent():  # live traffic: a time in the store's last month
        return end - timedelta(days=30) * rng.random()

    blank = {name: "" if bulk.STAGING_TYPES[name] == "text" else None for name in bulk.ROW_COLUMNS}

    def row(n: int) -> dict:
        return blank | {
            "transaction_id": f"b-{run}-{n}",
            "timestamp": recent(),
            "account_id": f"acct-{rng.randrange(accounts)}",
            "amount": Decimal("12.50"),
            "currency": "EUR",
            "merchant_id": f"m-{rng.randrange(merchants)}",
            "channel": "online",
        }

    def store(rows: list[dict]) -> float:
        started = time.perf_counter()
        with transaction.atomic():
            bulk.insert_rows(source_id=source.pk, rows=rows, label_source="")
        return time.perf_counter() - started

    for n in range(20):  # warm the connection, the plans and the month cache
        store([row(-n - 1)])
    single = [store([row(n)]) * 1000 for n in range(singles)]
    batch = [1000 / store([row(100_000 + b * 1000 + n) for n in range(1000)]) for b in range(batches)]
    history = []
    with connection.cursor() as cursor:
        for _ in range(histories):
            until = recent()
            keys = [f"acct-{rng.randrange(accounts)}" for _ in range(100)]
            started = time.perf_counter()
            cursor.execute(
                "SELECT id, account_id, timestamp, amount, merchant_id FROM transactions_transaction"
                " WHERE source_id = %s AND account_id = ANY(%s) AND timestamp >= %s AND timestamp < %s",
                [source.pk, keys, until - timedelta(days=30), until],
            )
            cursor.fetchall()
            history.append((time.perf_counter() - started) * 1000)
    scored_single, scored_batch = _score(source, run, rng, accounts, merchants, singles, batches)
    single.sort()
    return {
        "single_median_ms": statistics.median(single),
        "single_p99_ms": single[int(len(single) * 0.99) - 1],
        "batch_rows_per_s": statistics.median(batch),
        "history_median_ms": statistics.median(history),
        "score_single_median_ms": statistics.median(scored_single),
        "score_single_p99_ms": scored_single[int(len(scored_single) * 0.99) - 1],
        "score_batch_rows_per_s": statistics.median(scored_batch),
    }


def _score(source, run, rng, accounts: int, merchants: int, singles: int, batches: int) -> tuple[list, list]:
    """The partner API's services, one row and 1,000 rows, at times within the store's last month."""
    from detection.scoring.api_services import transaction_score, transactions_score_batch

    end = END

    def body(n: int) -> dict:
        return {
            "transaction_id": f"s-{run}-{n}",
            "timestamp": (end - timedelta(days=30) * rng.random()).isoformat(),
            "account_id": f"acct-{rng.randrange(accounts)}",
            "merchant_id": f"m-{rng.randrange(merchants)}",
            "amount": round(rng.uniform(1, 500), 2),
        }

    def timed(call) -> float:
        started = time.perf_counter()
        call()
        return time.perf_counter() - started

    for n in range(20):  # warm the model, the history cache and the plans
        transaction_score(source=source, data=body(-n - 1))
    single = sorted(timed(lambda n=n: transaction_score(source=source, data=body(n))) * 1000 for n in range(singles))
    batch = []
    for b in range(batches):
        rows = [body(1_000_000 + b * 1000 + n) for n in range(1000)]
        batch.append(1000 / timed(lambda rows=rows: transactions_score_batch(source=source, rows=rows)))
    return single, batch


def run(counts: dict[str, int], rounds: int, singles: int, batches: int, histories: int) -> None:
    sizes, order = list(counts), []
    for _ in range(rounds):
        order += [sizes[0], sizes[1], sizes[1], sizes[0]]
    results: dict[str, list[dict]] = {size: [] for size in sizes}
    for size in order:
        env = {**os.environ, "DATABASE_URL": database_url(size)}
        arguments = ["measure", "--rows", str(counts[size]), "--singles", str(singles), "--batches", str(batches)]
        arguments += ["--histories", str(histories)]
        output = subprocess.run(
            [sys.executable, __file__, *arguments], check=True, env=env, capture_output=True, text=True
        ).stdout
        results[size].append(json.loads(output.strip().splitlines()[-1]))
        print(size, results[size][-1], f"load {os.getloadavg()[0]:.1f}", flush=True)
    summary = {
        size: {key: round(statistics.median(r[key] for r in blocks), 3) for key in blocks[0]}
        for size, blocks in results.items()
    }
    ratios = {key: round(summary[sizes[1]][key] / summary[sizes[0]][key], 3) for key in summary[sizes[0]]}
    print(json.dumps({"medians": summary, f"{sizes[1]}/{sizes[0]}": ratios}, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=["build", "fill", "model", "measure", "run"])
    parser.add_argument("--rows", default="1000000,20000000")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--singles", type=int, default=300)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--histories", type=int, default=50)
    args = parser.parse_args()
    sizes = [int(n) for n in args.rows.split(",")]
    if args.step == "build":
        for rows in sizes:
            build(rows)
    elif args.step == "fill":
        fill(sizes[0])
    elif args.step == "model":
        train()
    elif args.step == "measure":
        print(json.dumps(measure(sizes[0], args.singles, args.batches, args.histories)))
    else:
        run({label(rows): rows for rows in sizes}, args.rounds, args.singles, args.batches, args.histories)


if __name__ == "__main__":
    main()
