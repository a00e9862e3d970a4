"""The batch ingest's two parts, timed alone: `transaction_clean` over 1,000 API bodies, and `insert_rows` of 1,000
clean rows (PostgreSQL's backend CPU included, read from /proc/<pid>/stat and /proc/<pid>/schedstat).

Bodies are handbook rows as the API benchmark sends them and prototype rows (the seed file, typed as its JSON
body would be). Inserts go into a fresh copy of a migrated scratch database (INGEST_DB, made once), inside a
transaction as the batch endpoint's, 1,000 new ids a call.

    .venv/bin/python bench/ingest_bench.py --repeats 30
"""

import argparse
import csv
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_common import (  # noqa: E402
    ROOT,
    bench_env,
    bench_organisation,
    create_database_if_missing,
    database_exists,
    psql,
    request_rows,
    setup_django,
)

BASE_DB = os.environ.get("INGEST_DB", "anomaly_ingest_bench")
SEED = Path(os.environ.get("SEED_CSV", ROOT.parent / "shared" / "data" / "seed" / "transactions.csv"))
PROTOTYPE_INTS = ("is_online", "is_weekend", "user_id", "hour", "day_of_week", "transaction_count_1h")
PROTOTYPE_FLOATS = (
    "amount",
    "location_distance_km",
    "time_since_last_transaction_minutes",
    "amount_log",
    "total_amount_24h",
)
PROTOTYPE_DROPPED = ("is_anomaly", "anomaly_type", "split")
ROWS = 1000
TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    if not database_exists(BASE_DB):
        create_database_if_missing(BASE_DB)
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=bench_env(BASE_DB), check=True)
    run_db = f"{BASE_DB}_run_{os.getpid()}"
    psql(f'CREATE DATABASE "{run_db}" TEMPLATE "{BASE_DB}"')
    try:
        setup_django(run_db)
        handbook, prototype = request_rows(29, ROWS, "h"), prototype_rows(ROWS)
        for name, rows in (("handbook", handbook), ("prototype", prototype)):
            print(f"clean {name}: {time_clean(rows, args.repeats):.2f} ms / {ROWS} rows (median)")
        for name, rows in (("handbook", handbook), ("prototype", prototype)):
            print(f"insert {name}: {time_insert(rows, args.repeats, name)}")
    finally:
        from django.db import connection

        connection.close()
        psql(f'DROP DATABASE IF EXISTS "{run_db}" WITH (FORCE)')


def prototype_rows(count: int) -> list[dict]:
    """Seed rows as the prototype's JSON body types them: ids and timestamps as text, counts as ints."""
    with SEED.open(newline="") as handle:
        rows = []
        for row, _ in zip(csv.DictReader(handle), range(count), strict=False):
            for name in PROTOTYPE_DROPPED:
                row.pop(name)
            row.update({name: int(row[name]) for name in PROTOTYPE_INTS})
            row.update({name: float(row[name]) for name in PROTOTYPE_FLOATS})
            rows.append(row)
    return rows


def time_clean(rows: list[dict], repeats: int) -> float:
    from transactions.validation import transaction_clean

    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        cleaned = [transaction_clean(row) for row in rows]
        timings.append((time.perf_counter() - started) * 1000)
        assert all(item.ok for item in cleaned)
    return statistics.median(timings)


def time_insert(rows: list[dict], repeats: int, name: str) -> str:
    from django.db import connection, transaction
    from django.utils import timezone

    from transactions.bulk import insert_rows
    from transactions.models import Source
    from transactions.validation import transaction_clean

    source = Source.objects.create(
        organisation=bench_organisation(), name=f"ingest-bench-{name}-{uuid.uuid4().hex[:6]}"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    python, wall, ticks, ran = [], [], [], []
    for repeat in range(repeats + 2):  # the first two warm the session's staging table and caches up
        clean = [transaction_clean({**row, "transaction_id": f"{repeat}-{row['transaction_id']}"}) for row in rows]
        data = [item.data | {"labelled_at": timezone.now()} for item in clean]
        with transaction.atomic():
            before = _backend_cpu(backend)
            started, cpu = time.perf_counter(), time.thread_time()
            outcome = insert_rows(source_id=source.pk, rows=data, label_source="reported")
            cpu, elapsed = time.thread_time() - cpu, time.perf_counter() - started
            after = _backend_cpu(backend)
        assert len(outcome) == ROWS and all(created for _, created in outcome.values())
        if repeat >= 2:
            python.append(cpu * 1000)
            wall.append(elapsed * 1000)
            ticks.append((after[0] - before[0]) * TICK_MS)
            ran.append((after[1] - before[1]) / 1e6)
    return (
        f"python CPU {statistics.median(python):.2f} ms, wall {statistics.median(wall):.2f} ms, "
        f"PostgreSQL backend CPU {statistics.median(ran):.2f} ms (schedstat median), "
        f"{statistics.mean(ticks):.2f} ms (utime+stime mean) per {ROWS} rows"
    )


def _backend_cpu(pid: int) -> tuple[int, int]:
    """(utime + stime in clock ticks, time on a CPU in ns) of a PostgreSQL backend process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat, after pid and comm
    return ticks, int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


if __name__ == "__main__":
    main()
