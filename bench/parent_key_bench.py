"""What a reference costs an insert: a foreign key (checked row by row) against core/parent_keys.py's
statement-level triggers, on bulk inserts of a job chunk's size and on single-row inserts.

Builds a scratch database with a 1,000,000-row parent table (a transaction's shape: many parents, one per child)
and a one-row parent table (a model version's: every child points at it), then inserts children into tables that
reference both by foreign keys, by the triggers, or not at all. Prints the median of --runs runs, insert and commit.

    .venv/bin/python bench/parent_key_bench.py --rows 33000 --runs 5
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from core.parent_keys import statement_parent_key  # noqa: E402

DB = "anomaly_bench_parent_keys"
SERVER = os.environ.get("BENCH_PG", "host=127.0.0.1 user=postgres")
CHILD = "(id bigserial PRIMARY KEY, parent_id bigint NOT NULL, version_id bigint NOT NULL, score float8, parts jsonb)"


def setup() -> None:
    with psycopg.connect(f"{SERVER} dbname=postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB}")
        admin.execute(f"CREATE DATABASE {DB}")
    with psycopg.connect(f"{SERVER} dbname={DB}", autocommit=True) as db:
        db.execute("CREATE TABLE parent (id bigserial PRIMARY KEY, pad text)")
        db.execute("INSERT INTO parent (pad) SELECT repeat('x', 200) FROM generate_series(1, 1000000)")
        db.execute("CREATE TABLE version (id bigserial PRIMARY KEY)")
        db.execute("INSERT INTO version DEFAULT VALUES")
        db.execute(f"CREATE TABLE by_foreign_key {CHILD}")
        db.execute(
            "ALTER TABLE by_foreign_key ADD FOREIGN KEY (parent_id) REFERENCES parent DEFERRABLE INITIALLY DEFERRED, "
            "ADD FOREIGN KEY (version_id) REFERENCES version DEFERRABLE INITIALLY DEFERRED"
        )
        db.execute(f"CREATE TABLE by_trigger {CHILD}")
        for column, parent, lock in (("parent_id", "parent", "table"), ("version_id", "version", "rows")):
            for operation in statement_parent_key(child="by_trigger", column=column, parent=parent, lock=lock):
                db.execute(operation.sql)
        db.execute(f"CREATE TABLE unchecked {CHILD}")
        for table in ("by_foreign_key", "by_trigger", "unchecked"):
            db.execute(f"CREATE INDEX ON {table} (parent_id)")
        db.execute("VACUUM ANALYZE")


def bulk(db, table: str, first: int, rows: int) -> tuple[float, float]:
    started = time.perf_counter()
    db.execute(
        f"INSERT INTO {table} (parent_id, version_id, score, parts) "  # noqa: S608 - the benchmark's own names
        "SELECT g, 1, 0.5, '{\"a\": 0.1}' FROM generate_series(%s::bigint, %s::bigint) g",
        [first, first + rows - 1],
    )
    inserted = time.perf_counter()
    db.commit()
    return inserted - started, time.perf_counter() - inserted


def single(db, table: str, count: int) -> float:
    spent = []
    for i in range(count):
        started = time.perf_counter()
        db.execute(f"INSERT INTO {table} (parent_id, version_id, score, parts) VALUES (%s, 1, 0.5, '{{}}')", [i + 1])  # noqa: S608
        db.commit()
        spent.append(time.perf_counter() - started)
    return statistics.median(spent)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=33_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--singles", type=int, default=1_000)
    args = parser.parse_args()
    setup()
    tables = ("by_foreign_key", "by_trigger", "unchecked")
    figures: dict[str, list[tuple[float, float]]] = {table: [] for table in tables}
    with psycopg.connect(f"{SERVER} dbname={DB}") as db:
        for run in range(args.runs):
            for table in tables:  # interleaved, so a busy moment of the machine falls on all three
                figures[table].append(bulk(db, table, 1 + run * args.rows, args.rows))
        singles = {table: [single(db, table, args.singles) for _ in range(3)] for table in tables}
    print(f"bulk insert of {args.rows:,} rows referencing both parents, median of {args.runs} runs:")
    for table in tables:
        insert = statistics.median(i for i, _ in figures[table])
        commit = statistics.median(c for _, c in figures[table])
        print(f"  {table:15s} insert {insert * 1000:7.1f} ms + commit {commit * 1000:6.1f} ms")
    print(f"single-row insert + commit, median of {args.singles} (3 rounds):")
    for table in tables:
        print(f"  {table:15s} " + " / ".join(f"{s * 1000:.3f} ms" for s in singles[table]))
    with psycopg.connect(f"{SERVER} dbname=postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {DB}")


if __name__ == "__main__":
    main()
