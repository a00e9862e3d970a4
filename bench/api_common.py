"""Shared set-up of the API and job benchmarks: a dedicated database with handbook history and an active model.

The database (`anomaly_bench_api`, or BENCH_DB) is created, migrated and filled once: the handbook's first
HISTORY_DAYS days as stored history, a model trained on them and activated. Benchmarks then send later days' rows.
Nothing is copied into the repository: files made from the shared data go to /tmp/bench-api/.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HANDBOOK = ROOT.parent / "shared" / "data" / "handbook" / "transactions.parquet"
WORK = Path(os.environ.get("BENCH_WORK", "/tmp/bench-api"))  # noqa: S108 - scratch files of a local benchmark
BENCH_DB = os.environ.get("BENCH_DB", "anomaly_bench_api")
HISTORY_DAYS = 28
PG = "postgres://postgres@127.0.0.1:5432"
# Every benchmark's rows belong to one organisation, as the demo's do (a database migrated from before
# organisations existed has its rows in `demo` already).
BENCH_ORGANISATION = "demo"
MAPPING = {
    "transaction_id": "TRANSACTION_ID",
    "timestamp": "TX_DATETIME",
    "account_id": "CUSTOMER_ID",
    "merchant_id": "TERMINAL_ID",
    "amount": "TX_AMOUNT",
}


def bench_env(db: str = BENCH_DB, **extra: str) -> dict:
    """The environment of every process of a benchmark: its database, a Redis db of its own, no rate limits."""
    return os.environ | {
        "DJANGO_SETTINGS_MODULE": "anomaly_site.settings",
        "DATABASE_URL": f"{PG}/{db}",
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6"),
        "CELERY_QUEUE": "q-bench-api",
        "CHANNELS_PREFIX": "asgi-bench-api",
        "CACHE_KEY_PREFIX": "bench-api",
        "DEBUG": "0",
        "BENCH_ENDPOINTS": "1",  # the floor the scoring endpoints are measured against (detection/scoring/floor.py)
        "PLAIN_HTTP": "1",  # the benchmark's clients speak plain HTTP to a local server, as make run does
        "SECRET_KEY": "bench-only-" + "k" * 50,  # a local benchmark's key: long enough for DEBUG off, never secret
        "LOG_LEVEL": "WARNING",
        "API_RATE_SCORE": "100000000/min",
        "API_RATE_JOBS": "100000/min",
        "MEDIA_ROOT": str(WORK / "media"),
        **extra,
    }


def bench_organisation():
    """The benchmark database's organisation, made when missing (Django must be set up)."""
    from accounts.models import Organisation

    return Organisation.objects.get_or_create(name=BENCH_ORGANISATION)[0]


def setup_django(db: str = BENCH_DB) -> None:
    os.environ.update(bench_env(db))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def psql(sql: str, db: str = "postgres") -> str:
    out = subprocess.run(["psql", f"{PG}/{db}", "-Atc", sql], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def database_exists(name: str) -> bool:
    return psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'") == "1"  # noqa: S608 - our own name


def fresh_copy(name: str) -> str:
    """A new copy of the prepared database (CREATE DATABASE ... TEMPLATE): what one run writes (handbook rows
    stored again under other ids, which would double the next run's histories) never reaches another run."""
    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(f'CREATE DATABASE "{name}" TEMPLATE "{BENCH_DB}"')
    return name


def drop_copy(name: str) -> None:
    """Drop a copy made by fresh_copy, after closing this process's Django connection to it."""
    from django.db import connection

    connection.close()
    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create_database_if_missing(name: str) -> None:
    if not database_exists(name):
        psql(f'CREATE DATABASE "{name}"')


def setup_own_database(name: str, **env: str) -> None:
    """Set Django up on a benchmark's own database `name`, created when missing and migrated; `env` and the
    database's URL are defaults of the environment (a variable already set wins)."""
    defaults = {
        "DATABASE_URL": f"{PG}/{name}",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "anomaly_site.settings",
        "PLAIN_HTTP": "1",  # the benchmark's in-process client speaks plain HTTP, as make run does
    }
    for key, value in (defaults | env).items():
        os.environ.setdefault(key, value)
    sys.path.insert(0, str(ROOT))
    create_database_if_missing(name)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def handbook_days(first: int, last: int, path: Path) -> Path:
    """The handbook's rows of days [first, last) as a Parquet file (made once)."""
    if not path.exists():
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        table = pq.read_table(HANDBOOK)
        days = table["TX_TIME_DAYS"]
        table = table.filter(pc.and_(pc.greater_equal(days, first), pc.less(days, last)))
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table.drop_columns(["TX_FRAUD_SCENARIO"]), path)
    return path


def prepare() -> None:
    """Create and fill the benchmark database unless it is there already."""
    WORK.mkdir(parents=True, exist_ok=True)
    if os.environ.get("BENCH_FRESH") == "1" and database_exists(BENCH_DB):  # e.g. after the engine's format changed
        psql(f'DROP DATABASE "{BENCH_DB}" WITH (FORCE)')
    if (
        database_exists(BENCH_DB)
        and psql("SELECT count(*) FROM detection_modelversion WHERE status='active'", BENCH_DB) == "1"
    ):
        # Kept from an earlier run: bring its schema up to the code's (an index dropped or added since counts).
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=bench_env(), check=True)
        psql("ANALYZE", BENCH_DB)
        return
    if not database_exists(BENCH_DB):
        psql(f'CREATE DATABASE "{BENCH_DB}"')
    env = bench_env()
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    history = handbook_days(0, HISTORY_DAYS, WORK / "history.parquet")
    code = f"""
from accounts.models import Organisation
from detection.training.services import model_version_activate, model_version_train
from transactions.services import source_get_or_create, transactions_import_file
organisation = Organisation.objects.get_or_create(name={BENCH_ORGANISATION!r})[0]
source = source_get_or_create(organisation=organisation, name="handbook-history")
summary = transactions_import_file(source=source, path={str(history)!r}, mapping={MAPPING!r}, label_column="TX_FRAUD")
print("history rows", summary.stored)
version = model_version_train(organisation=organisation, seed=0, max_rows=150_000)
model_version_activate(version=version)
print("model", version.version, version.training_rows)
"""
    started = time.monotonic()
    subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True)
    # Statistics, as autovacuum would have them a few minutes later; every copy inherits them. Without them the
    # planner took the stored history for a few hundred rows, and the first runs on a new database planned joins
    # with it badly (review cases: a second a batch).
    psql("ANALYZE", BENCH_DB)
    print(f"prepared {BENCH_DB} in {time.monotonic() - started:.0f} s", flush=True)


def request_rows(first_day: int, count: int, run: str) -> list[dict]:
    """`count` handbook rows from `first_day` on, as API bodies, ids made unique to this run: from as many days as
    that takes (the handbook has about 9,700 rows a day; at least 3 days)."""
    days = max(3, -(-count // 9_000))
    path = handbook_days(first_day, first_day + days, WORK / f"days-{first_day}-{days}.parquet")
    import pandas as pd

    frame = pd.read_parquet(path).head(count)
    return [
        {
            "transaction_id": f"{run}-{row.TRANSACTION_ID}",
            "timestamp": row.TX_DATETIME.isoformat(),
            "account_id": str(row.CUSTOMER_ID),
            "merchant_id": str(row.TERMINAL_ID),
            "amount": round(float(row.TX_AMOUNT), 2),
        }
        for row in frame.itertuples()
    ]


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def machine_cpu_ticks() -> tuple[int, int]:
    """Busy and total clock ticks of every core since boot, every process included (/proc/stat's first eight
    fields, user to steal: idle and iowait count as not busy; guest time is counted in user already)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


def process_cpu_ticks(pids: list[int]) -> dict[int, int]:
    """Each live process's CPU so far (utime + stime, clock ticks)."""
    ticks = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        ticks[pid] = int(fields[11]) + int(fields[12])
    return ticks


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []
