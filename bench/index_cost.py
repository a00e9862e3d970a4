"""What the transactions table's (account, time) and (merchant, time) indexes cost a 1,000-row INSERT, and what other
forms of them would cost: a measurement behind a change not made (docs/benchmarks.md).

On a copy of the API benchmark's database (bench/api_common.py prepares it), a plain copy of the transactions table
(its rows and six indexes, none of its triggers) takes 1,000-row INSERT ... SELECTs of rows stored again under new
ids; each form of the two indexes is timed over --inserts statements, the six-index form again at the end to show
the drift.

    .venv/bin/python bench/index_cost.py --inserts 30
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_common import PG, fresh_copy, prepare, psql  # noqa: E402

COPY = "anomaly_bench_index_cost"
COLUMNS = (
    "transaction_id, timestamp, account_id, amount, currency, merchant_id, merchant_category, channel, latitude, "
    "longitude, location_distance_km, country, device_id, attributes, label, label_source, labelled_at, ingested_at, "
    "source_id"
)
FORMS = {
    "text keys (as stored)": ("account_id, timestamp", "merchant_id, timestamp"),
    'text keys COLLATE "C"': ('account_id COLLATE "C", timestamp', 'merchant_id COLLATE "C", timestamp'),
    "64-bit hashes of the keys": (
        "hashtextextended(account_id, 0), timestamp",
        "hashtextextended(merchant_id, 0), timestamp",
    ),
}
SETUP = (
    "CREATE TABLE t (LIKE transactions_transaction INCLUDING DEFAULTS INCLUDING CONSTRAINTS)",
    "CREATE SEQUENCE t_ids START 1000000000",
    "ALTER TABLE t ALTER COLUMN id SET DEFAULT nextval('t_ids')",
    "INSERT INTO t SELECT * FROM transactions_transaction",
    "ALTER TABLE t ADD PRIMARY KEY (id)",
    "CREATE UNIQUE INDEX ON t (source_id, transaction_id)",
    "CREATE INDEX ON t (timestamp)",
    "CREATE INDEX ON t (change_txid)",
    "CREATE TABLE src AS SELECT * FROM transactions_transaction ORDER BY random() LIMIT 20000",
    "VACUUM ANALYZE t",
    "VACUUM ANALYZE src",
    "CHECKPOINT",
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--inserts", type=int, default=30, help="1,000-row INSERTs timed per form")
    args = parser.parse_args()
    prepare()
    fresh_copy(COPY)
    try:
        import psycopg

        for statement in SETUP:
            psql(statement, COPY)
        with psycopg.connect(f"{PG}/{COPY}", autocommit=True) as conn:
            runs = 0

            def timed(name: str) -> None:
                nonlocal runs
                times = []
                for _ in range(args.inserts):
                    runs += 1
                    start = (runs * 1000) % 19_000
                    sql = (
                        f"INSERT INTO t ({COLUMNS}) SELECT transaction_id || '-{runs}', "  # noqa: S608 - our own text
                        f"timestamp + interval '1 second' * {runs}, {COLUMNS.split(', ', 2)[2]} "
                        f"FROM src OFFSET {start} LIMIT 1000"
                    )
                    began = time.perf_counter()
                    conn.execute(sql)
                    times.append((time.perf_counter() - began) * 1000)
                print(f"{name:32} median {statistics.median(times):6.2f} ms, min {min(times):6.2f} ms per 1,000 rows")

            def indexes(form: tuple[str, str] | None) -> None:
                conn.execute("DROP INDEX IF EXISTS t_account; DROP INDEX IF EXISTS t_merchant")
                if form:
                    conn.execute(f"CREATE INDEX t_account ON t ({form[0]}); CREATE INDEX t_merchant ON t ({form[1]})")

            for name, form in FORMS.items():
                indexes(form)
                timed(name)
            indexes(None)
            timed("without the two indexes")
            indexes(FORMS["text keys (as stored)"])
            timed("text keys (as stored), again")
    finally:
        psql(f'DROP DATABASE IF EXISTS "{COPY}" WITH (FORCE)')


if __name__ == "__main__":
    main()
