"""Where an import's PostgreSQL CPU goes: the handbook's first chunks stored by `transactions_store_frame` into an
emptied store, once as the schema is and once without each part (an index, the label events' foreign key, the
source check trigger, the label events themselves, and the changes a migration could make together): each variant's
PostgreSQL backend CPU per 1,000,000 rows.

A part is taken away by hand for its variant and put back after it (never by a migration: this measures what a
migration would save). Variants run in rounds, the order reversed every other round; medians are printed, with each
variant's difference from "as is". Uses import_bench.py's database (`anomaly_bench_ingest`, or DATABASE_URL).

    .venv/bin/python bench/import_cost.py --chunks 3 --rounds 2
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from import_bench import EMPTY_STORE, PRESETS, ROOT, _process_cpu_seconds, ensure_database  # noqa: E402

TABLE = "transactions_transaction"


def _index_variants(cursor) -> dict[str, tuple[list[str], list[str]]]:
    """One variant per plain index of the table: (SQL that takes it away, SQL that puts it back)."""
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
        "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass) ORDER BY indexname",
        [TABLE, TABLE],
    )
    # pg_indexes defines a partitioned table's index ON ONLY the parent: put back that way, no partition would have it.
    return {
        f"without index {name}": ([f"DROP INDEX {name}"], [definition.replace(" ON ONLY ", " ON ", 1)])
        for name, definition in cursor.fetchall()
    }


def _event_variants(cursor) -> dict[str, tuple[list[str], list[str]]]:
    """The label events' own costs: their reference to the transaction (a statement-level check), their
    `created_by` foreign key (a deferred per-row trigger, NULL for every imported event) and its index."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f' "
        "AND conrelid = 'transactions_labelevent'::regclass"
    )
    variants = {
        f"without the label events' foreign key {name}": (
            [f"ALTER TABLE transactions_labelevent DROP CONSTRAINT {name}"],
            [f"ALTER TABLE transactions_labelevent ADD CONSTRAINT {name} {definition}"],
        )
        for name, definition in cursor.fetchall()
    }
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'transactions_labelevent' "
        "AND indexname NOT LIKE '%%_pkey'"
    )
    variants |= {
        f"without the label events' index {name}": ([f"DROP INDEX {name}"], [definition])
        for name, definition in cursor.fetchall()
    }
    check = "transactions_labelevent_transaction_id_parent_check_insert"
    variants["without the label events' reference check"] = (
        [f"ALTER TABLE transactions_labelevent DISABLE TRIGGER {check}"],
        [f"ALTER TABLE transactions_labelevent ENABLE TRIGGER {check}"],
    )
    return variants


# What transactions 0010 changes, put on the schema of before it (nothing to do on a database migrated to 0010).
KEY_TABLE = "transactions_transactionkey"
BYTEWISE = {  # index: (column compared byte by byte, the rest)
    "tx_account_time": ("account_id", ', "timestamp"'),
    "tx_merchant_time": ("merchant_id", ', "timestamp"'),
    "tx_source_txid": ("transaction_id", ""),
}
EVENT_CHECK = "transactions_labelevent_transaction_id_parent_check()"


def _bytewise_index(name: str, column: str, rest: str, opclass: str) -> list[str]:
    columns = f"source_id, {column} {opclass}" if name == "tx_source_txid" else f"{column} {opclass}{rest}"
    return [f"DROP INDEX {name}", f"CREATE INDEX {name} ON {TABLE} ({columns})"]


def _key_constraint(opclass: str) -> list[str]:
    return [
        f"ALTER TABLE {KEY_TABLE} DROP CONSTRAINT transaction_unique_per_source",
        f"CREATE UNIQUE INDEX transaction_unique_per_source ON {KEY_TABLE} (source_id, transaction_id {opclass})",
    ]


def _recommended_variant(cursor) -> dict[str, tuple[list[str], list[str]]]:
    cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = 'label_event_by_person'")
    if cursor.fetchone():
        return {"0010's changes (already in)": ([], [])}
    take_away = [f"ALTER FUNCTION {EVENT_CHECK} SET jit = off"]
    put_back = [f"ALTER FUNCTION {EVENT_CHECK} RESET jit"]
    for name, (column, rest) in BYTEWISE.items():
        take_away += _bytewise_index(name, column, rest, "varchar_pattern_ops")
        put_back += _bytewise_index(name, column, rest, "")
    take_away += _key_constraint("varchar_pattern_ops")
    put_back += [
        "DROP INDEX transaction_unique_per_source",
        f"ALTER TABLE {KEY_TABLE} ADD CONSTRAINT transaction_unique_per_source UNIQUE (source_id, transaction_id)",
    ]
    take_away += [
        "DROP INDEX transactions_labelevent_created_by_id_3d78b52a",
        "CREATE INDEX label_event_by_person ON transactions_labelevent (created_by_id) WHERE created_by_id IS NOT NULL",
    ]
    put_back += [
        "DROP INDEX label_event_by_person",
        "CREATE INDEX transactions_labelevent_created_by_id_3d78b52a ON transactions_labelevent (created_by_id)",
    ]
    return {"0010's changes": (take_away, put_back)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=3, help="Chunks of 100,000 handbook rows a variant stores.")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", default="", help="Comma-separated variant names (prefixes) to run.")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "anomaly_site.settings")
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/anomaly_bench_ingest")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    ensure_database()
    from django.db import connection

    from accounts.models import Organisation
    from transactions.files import read_mapped_chunks
    from transactions.models import Source
    from transactions.services import source_get_or_create, transactions_store_frame

    spec = dict(PRESETS["handbook"])
    chunks = []
    for chunk in read_mapped_chunks(spec.pop("path"), **spec, chunk_rows=100_000):
        chunks.append(chunk.frame)
        if len(chunks) == args.chunks:
            break
    rows = sum(len(frame) for frame in chunks)
    with connection.cursor() as cursor:
        variants = {"as is": ([], [])}
        variants |= _index_variants(cursor)
        variants |= _event_variants(cursor)
        variants["without the key table's trigger (not a candidate)"] = (
            [f"ALTER TABLE {TABLE} DISABLE TRIGGER transactions_key_insert"],
            [f"ALTER TABLE {TABLE} ENABLE TRIGGER transactions_key_insert"],
        )
        variants["without the source check trigger"] = (
            [f"ALTER TABLE {TABLE} DISABLE TRIGGER {TABLE}_source_id_parent_check_insert"],
            [f"ALTER TABLE {TABLE} ENABLE TRIGGER {TABLE}_source_id_parent_check_insert"],
        )
        variants["without labels (no label events)"] = ([], [])
        # The triggers' checks plan with sequential scans off, which puts a chunk's statement above jit_above_cost.
        variants["with JIT off for the session"] = (["SET jit = off"], ["RESET jit"])
        variants |= _recommended_variant(cursor)
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    if args.only:
        wanted = [name.strip() for name in args.only.split(",")]
        variants = {k: v for k, v in variants.items() if k == "as is" or any(k.startswith(w) for w in wanted)}
    organisation, _ = Organisation.objects.get_or_create(name="demo")
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    walls: dict[str, list[float]] = {name: [] for name in variants}
    for number in range(args.rounds):
        names = list(variants) if number % 2 == 0 else list(reversed(variants))
        for name in names:
            take_away, put_back = variants[name]
            with connection.cursor() as cursor:
                cursor.execute(EMPTY_STORE)
                for sql in take_away:
                    cursor.execute(sql)
                cursor.execute("CHECKPOINT")
            source = source_get_or_create(organisation=organisation, name="bench-cost", kind=Source.Kind.IMPORT)
            frames = chunks
            if name.startswith("without labels"):
                frames = [frame.assign(label=frame["label"].astype("Int64") * pd_na()) for frame in chunks]
            before, started = _process_cpu_seconds(pid), time.perf_counter()
            for frame in frames:
                transactions_store_frame(source=source, frame=frame)
            seconds[name].append(_process_cpu_seconds(pid) - before)
            walls[name].append(time.perf_counter() - started)
            with connection.cursor() as cursor:
                for sql in put_back:
                    cursor.execute(sql)
    base = statistics.median(seconds["as is"])
    scale = 1_000_000 / rows
    print(f"{'variant':58} {'PG CPU s / 1M rows':>18} {'saves':>7}")
    for name in variants:
        cpu = statistics.median(seconds[name])
        print(f"{name:58} {cpu * scale:>18.1f} {(base - cpu) / base:>7.1%}")
    print(
        f"({rows:,} handbook rows a variant into an emptied store, one connection, medians of {args.rounds} rounds;"
        f" load average {' '.join(f'{x:.1f}' for x in os.getloadavg())})"
    )


def pd_na():
    import pandas as pd

    return pd.NA


if __name__ == "__main__":
    main()
