"""Import benchmark: rows/s and peak RSS of `transactions_import_file` on the seed CSV and the handbook Parquet.

Each run is a fresh process importing into an emptied store of a dedicated database (default `anomaly_bench_ingest`,
created and migrated if missing; override with DATABASE_URL). Prints one line per run and the median.

    .venv/bin/python bench/import_bench.py seed --runs 3
    .venv/bin/python bench/import_bench.py handbook --runs 3
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
# Each preset is transactions_import_file's arguments for its file.
PRESETS = {
    "seed": {
        "path": DATA / "seed" / "transactions.csv",
        "mapping": {
            "transaction_id": "transaction_id",
            "timestamp": "timestamp",
            "account_id": "user_id",
            "amount": "amount",
            "merchant_category": "merchant_category",
            "location_distance_km": "location_distance_km",
            "channel": "is_online",
        },
        "attributes": ["time_since_last_transaction_minutes", "transaction_count_1h", "total_amount_24h"],
        "label_column": "is_anomaly",
        "exclude": ["anomaly_type"],
    },
    "handbook": {
        "path": DATA / "handbook" / "transactions.parquet",
        "mapping": {
            "transaction_id": "TRANSACTION_ID",
            "timestamp": "TX_DATETIME",
            "account_id": "CUSTOMER_ID",
            "merchant_id": "TERMINAL_ID",
            "amount": "TX_AMOUNT",
        },
        "attributes": [],
        "label_column": "TX_FRAUD",
        "exclude": ["TX_FRAUD_SCENARIO"],
    },
}
# The label events reference the transactions by a statement-level check, not a foreign key: CASCADE misses them.
EMPTY_STORE = "TRUNCATE transactions_transaction, transactions_labelevent, transactions_source CASCADE"


class BackendCpu:
    """CPU seconds spent by the PostgreSQL backends this process talks to, read from /proc before each closes.

    The machine is shared, so wall time depends on the load; CPU seconds (ours plus PostgreSQL's) do not.
    """

    def __init__(self):
        self.seconds = 0.0
        self.pids: dict[int, int] = {}

    def install(self) -> None:
        from django.db.backends.base.base import BaseDatabaseWrapper
        from django.db.backends.signals import connection_created

        connection_created.connect(self._opened, weak=False)
        real_close = BaseDatabaseWrapper.close

        def close(wrapper):
            self.collect(wrapper)
            real_close(wrapper)

        BaseDatabaseWrapper.close = close

    def _opened(self, sender, connection, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.pids[id(connection)] = cursor.fetchone()[0]

    def collect(self, connection) -> None:
        pid = self.pids.pop(id(connection), None)
        if pid is not None:
            self.seconds += _process_cpu_seconds(pid)


def _process_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_run(preset: str, chunk_rows: int, workers: int) -> dict:
    import resource
    import time

    import django

    django.setup()
    from django.db import connection, connections

    from accounts.models import Organisation
    from transactions.models import Source
    from transactions.services import source_get_or_create, transactions_import_file

    backends = BackendCpu()
    backends.install()
    with connection.cursor() as cursor:
        cursor.execute(EMPTY_STORE)
    spec = PRESETS[preset]
    organisation, _ = Organisation.objects.get_or_create(name="demo")  # the benchmark's one organisation
    source = source_get_or_create(organisation=organisation, name=f"bench-{preset}", kind=Source.Kind.IMPORT)
    started, own_cpu = time.perf_counter(), time.process_time()
    summary = transactions_import_file(source=source, **spec, chunk_rows=chunk_rows, workers=workers)
    seconds, own_cpu = time.perf_counter() - started, time.process_time() - own_cpu
    backends.collect(connections["default"])
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "rows": summary.rows,
        "stored": summary.stored,
        "rejected": summary.rejected,
        "seconds": seconds,
        "rows_per_s": summary.rows / seconds,
        "peak_rss_mb": peak_mb,
        "client_cpu_s": own_cpu,
        "postgres_cpu_s": backends.seconds,
    }


def ensure_database() -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    name = connection.settings_dict["NAME"]
    import psycopg

    params = {
        k: v
        for k, v in {
            "host": connection.settings_dict["HOST"],
            "port": connection.settings_dict["PORT"],
            "user": connection.settings_dict["USER"],
        }.items()
        if v
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')
    call_command("migrate", verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("preset", choices=sorted(PRESETS))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "anomaly_site.settings")
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/anomaly_bench_ingest")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    if args.one:
        print(json.dumps(one_run(args.preset, args.chunk_rows, args.workers)))
        return
    ensure_database()
    results = []
    for run in range(1, args.runs + 1):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                args.preset,
                "--one",
                "--chunk-rows",
                str(args.chunk_rows),
                "--workers",
                str(args.workers),
            ],
            check=True,
            capture_output=True,
            text=True,
            env=os.environ,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(result)
        print(
            f"run {run}: {result['rows']:,} rows ({result['stored']:,} stored, {result['rejected']:,} rejected) "
            f"in {result['seconds']:.1f} s = {result['rows_per_s']:,.0f} rows/s, "
            f"peak RSS {result['peak_rss_mb']:.0f} MB; CPU: client {result['client_cpu_s']:.1f} s, "
            f"PostgreSQL {result['postgres_cpu_s']:.1f} s ({result['postgres_cpu_s'] / result['rows'] * 1e6:.1f} s per"
            " 1,000,000 rows)"
        )
    print(
        f"median of {args.runs}: {statistics.median(r['seconds'] for r in results):.1f} s, "
        f"{statistics.median(r['rows_per_s'] for r in results):,.0f} rows/s, "
        f"peak RSS {statistics.median(r['peak_rss_mb'] for r in results):.0f} MB, "
        f"CPU client {statistics.median(r['client_cpu_s'] for r in results):.1f} s + "
        f"PostgreSQL {statistics.median(r['postgres_cpu_s'] for r in results):.1f} s "
        f"({statistics.median(r['postgres_cpu_s'] / r['rows'] for r in results) * 1e6:.1f} s per 1,000,000 rows) "
        f"({args.preset}, chunk {args.chunk_rows:,} rows, {args.workers} workers, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    main()
