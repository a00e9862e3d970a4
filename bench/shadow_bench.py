"""Shadow scoring benchmark: the CPU a challenger adds per scored row, measured side by side in one run.

Issue #25's target: a challenger scoring in shadow costs at most 40% more CPU per scored row.

Its own database (`anomaly_bench_shadow`, or SHADOW_BENCH_DB), made once: the handbook's first HISTORY_DAYS days as
stored history, version 1 trained on them and active, version 2 (another seed) ready to be the challenger, and the
next day's rows stored, unscored. Each phase scores those rows through the scoring services, as the partner API,
streaming and jobs do (`score_stored` in batches of 1,000; `score_transactions` one row at a time), inside a
transaction rolled back afterwards, so every phase scores the same new rows. Phases alternate without and with the
challenger (ABBA: off-on, on-off, …, so a machine growing busier or quieter weighs on both alike). CPU is this
process's (every thread) plus its PostgreSQL backend's (/proc, same machine): the rows' storage costs count too.

    .venv/bin/python bench/shadow_bench.py                 # 6 rounds
    .venv/bin/python bench/shadow_bench.py --rounds 10 --batches 3 --single 100
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("BENCH_REDIS_URL", os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/6"))

from api_common import MAPPING, WORK, database_exists, handbook_days, psql, setup_django  # noqa: E402

DB = os.environ.get("SHADOW_BENCH_DB", "anomaly_bench_shadow")
HISTORY_DAYS = 14
TRAINING_ROWS = 60_000
TARGET_RATIO = 1.40
TICKS = os.sysconf("SC_CLK_TCK")


def prepare() -> None:
    """Create and fill the benchmark's database unless it is there already."""
    if database_exists(DB) and psql("SELECT count(*) FROM detection_modelversion", DB) == "2":
        setup_django(DB)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        return
    if not database_exists(DB):
        psql(f'CREATE DATABASE "{DB}"')
    setup_django(DB)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from accounts.models import Organisation
    from detection.training.services import model_version_activate, model_version_train
    from transactions.services import source_get_or_create, transactions_import_file

    started = time.monotonic()
    organisation = Organisation.objects.get_or_create(name="demo")[0]
    history = handbook_days(0, HISTORY_DAYS, WORK / f"shadow-history-{HISTORY_DAYS}.parquet")
    source = source_get_or_create(organisation=organisation, name="handbook-history")
    transactions_import_file(source=source, path=history, mapping=MAPPING, label_column="TX_FRAUD")
    fresh = handbook_days(HISTORY_DAYS, HISTORY_DAYS + 1, WORK / f"shadow-day-{HISTORY_DAYS}.parquet")
    transactions_import_file(
        source=source_get_or_create(organisation=organisation, name="handbook-new"), path=fresh, mapping=MAPPING
    )
    champion = model_version_train(organisation=organisation, seed=0, max_rows=TRAINING_ROWS)
    model_version_activate(version=champion)
    model_version_train(organisation=organisation, seed=1, max_rows=TRAINING_ROWS)
    print(json.dumps({"prepared": DB, "seconds": round(time.monotonic() - started)}), flush=True)


def backend_cpu_seconds() -> float:
    """CPU time of this connection's PostgreSQL backend (a process on this machine)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def cpu_per_row(calls: list, rows: int) -> tuple[float, float]:
    """(this process's, its backend's) CPU seconds per row of the scoring calls, each rolled back afterwards; timed
    together, as the backend's clock counts in ticks of 10 ms."""
    from django.db import transaction

    backend, process = backend_cpu_seconds(), time.process_time()
    for call in calls:
        with transaction.atomic():
            call()
            transaction.set_rollback(True)
    return (time.process_time() - process) / rows, (backend_cpu_seconds() - backend) / rows


def challenger_switch(*, on: bool) -> None:
    from detection.models import ModelVersion
    from detection.scoring import registry
    from detection.training.services import model_version_challenge, model_version_challenge_end

    ready = ModelVersion.objects.get(status=ModelVersion.Status.READY)
    if on and not ready.challenger:
        model_version_challenge(version=ready)
    elif not on and ready.challenger:
        model_version_challenge_end(version=ready)
    registry.active_model_changed(ready.organisation_id)


def phase(pks: list[int], organisation_id: int, batches: int, single: int) -> dict[str, tuple[float, float]]:
    """CPU per row of `batches` batches of 1,000 rows (`score_stored`), then of `single` rows one at a time
    (`score_transactions`)."""
    from detection.scoring.services import StoredRows, score_stored, score_transactions
    from transactions.models import Transaction

    stored = [StoredRows(pks=pks[k * 1000 : (k + 1) * 1000]) for k in range(batches)]
    singles = list(Transaction.objects.filter(pk__in=pks[-single:])) if single else []
    return {
        "batch": cpu_per_row(
            [lambda s=s: score_stored(stored=s, organisation_id=organisation_id) for s in stored], 1000 * batches or 1
        ),
        "single": cpu_per_row([lambda t=t: score_transactions(transactions=[t]) for t in singles], single or 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6, help="Off/on pairs, alternating which comes first.")
    parser.add_argument("--batches", type=int, default=3, help="Batches of 1,000 rows per phase.")
    parser.add_argument("--single", type=int, default=100, help="Single-row scores per phase.")
    args = parser.parse_args()
    prepare()
    from detection.models import ModelVersion
    from transactions.models import Transaction

    champion = ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE)
    fresh = Transaction.objects.filter(source__name="handbook-new").order_by("timestamp", "id")
    pks = list(fresh.values_list("id", flat=True)[: args.batches * 1000 + args.single])
    results: dict[bool, dict[str, list]] = {False: {"batch": [], "single": []}, True: {"batch": [], "single": []}}
    phase(pks, champion.organisation_id, 1, 5)  # warm-up: models loaded, caches filled
    started = time.monotonic()
    for round_ in range(args.rounds):
        for on in (False, True) if round_ % 2 == 0 else (True, False):
            challenger_switch(on=on)
            phase(pks, champion.organisation_id, 0, 2)  # the challenger loaded before timing
            for kind, value in phase(pks, champion.organisation_id, args.batches, args.single).items():
                results[on][kind].append(value)
    challenger_switch(on=False)
    print(json.dumps(summary(results, args, time.monotonic() - started, os.getloadavg())), flush=True)


def summary(results: dict, args, seconds: float, load: tuple) -> dict:
    figures = {
        "rounds": args.rounds,
        "batches_each": args.rounds * args.batches,
        "singles_each": args.rounds * args.single,
        "seconds": round(seconds),
        "load_average": [round(x, 1) for x in load],
    }
    for kind in ("batch", "single"):
        for name, pick in (("process", lambda v: v[0]), ("total", lambda v: v[0] + v[1])):
            off = statistics.median(pick(v) for v in results[False][kind])
            on = statistics.median(pick(v) for v in results[True][kind])
            figures[f"{kind}_{name}_cpu_us_per_row_without"] = round(off * 1e6, 1)
            figures[f"{kind}_{name}_cpu_us_per_row_with"] = round(on * 1e6, 1)
            figures[f"{kind}_{name}_ratio"] = round(on / off, 3)
    figures["target_met"] = all(figures[f"{k}_total_ratio"] <= TARGET_RATIO for k in ("batch", "single"))
    return figures


if __name__ == "__main__":
    main()
