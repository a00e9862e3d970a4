"""Slow corners (issue #27 point 4): batch rows/s and single-score median of each corner case against ordinary rows.

Cases, each sent the handbook's day-29 rows (ids unique to the run) with one thing changed:

- ordinary: the rows as they are (the history is the handbook's first 28 days);
- old: their timestamps 2018-01-01 onwards (three months before any stored row; a backfill);
- instant: 1,000 rows of one new account at one instant (a batch is all of them; singles add to such an account);
- account: every row the account's whose history is `--account-rows` rows (100,000) in the last 30 days;
- merchant: every row the merchant's whose history is `--merchant-rows` rows (1,000,000; the issue's 10,000,000 with
  `--merchant-rows 10000000`) in the last 30 days.

The corner rows are made in SQL with generate_series once, into `anomaly_bench_corners` (BENCH_CORNERS_DB), a copy
of the API benchmark's database (bench/api_common.py), and kept; each run scores in a fresh copy of it. Cases run in
rounds, the order reversed every other round (ABBA); each case's batches and singles are in-process service calls
(`transactions_score_batch`, `transaction_score`: no HTTP, so the ratios are the scoring path's). Prints each case's
medians and its ratio to ordinary's.

    .venv/bin/python bench/corners_bench.py                       # `make bench-corners`
    .venv/bin/python bench/corners_bench.py --merchant-rows 10000000 --rounds 4 --batches 2 --single 10
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_common import (  # noqa: E402
    BENCH_DB,
    bench_organisation,
    database_exists,
    drop_copy,
    prepare,
    psql,
    request_rows,
    setup_django,
)

CORNERS_DB = os.environ.get("BENCH_CORNERS_DB", "anomaly_bench_corners")
RUN_DB = CORNERS_DB + "_run"
ACCOUNT = "corner-account"
MERCHANT = "corner-merchant"
# The corner rows fill the 30 days before the requests' day (handbook day 29 is 2018-04-30).
HISTORY_FROM, HISTORY_TO = "2018-04-01", "2018-04-30"
OLD_START = datetime(2018, 1, 1, tzinfo=UTC)
CASES = ("ordinary", "old", "instant", "account", "merchant")


def corner_rows_sql(*, account: str, merchant: str, rows: int, other: str) -> str:
    """`rows` transactions of one account (or merchant) spread evenly over the history window, the other key
    (`other`: 'merchant_id' or 'account_id') one of 10,000 made-up ones; in the first stored row's source, with
    its currency, channel and country, labelled legit."""
    key, spread = (account, "account_id") if account else (merchant, "merchant_id")
    others = f"'corner-{other[:1]}-' || (i % 10000)"
    return f"""
        INSERT INTO transactions_transaction (source_id, transaction_id, timestamp, {spread}, {other}, amount,
            currency, merchant_category, channel, country, device_id, attributes, label, label_source, labelled_at,
            ingested_at)
        SELECT s.id, 'corner-{key}-' || i,
               timestamptz '{HISTORY_FROM}' + (timestamptz '{HISTORY_TO}' - timestamptz '{HISTORY_FROM}') * i / {rows},
               '{key}', {others}, round((10 + (i * 7919 % 20000) / 100.0)::numeric, 2),
               s.currency, s.merchant_category, s.channel, s.country, '', '{{}}', 0, 'import',
               timestamptz '{HISTORY_TO}', now()
        FROM generate_series(0::bigint, {rows - 1}) i, (
            SELECT source_id AS id, currency, merchant_category, channel, country FROM transactions_transaction
            ORDER BY id LIMIT 1
        ) s
    """  # noqa: S608 - the benchmark's own constants


def ensure_corners(account_rows: int, merchant_rows: int) -> None:
    """The corners database with the account's and the merchant's rows, made once (again when the sizes changed)."""
    # Made again when the sizes change or the benchmark database was migrated since (its schema is copied).
    migrations = psql("SELECT count(*) FROM django_migrations", BENCH_DB)
    wanted = f"{account_rows}/{merchant_rows}/{migrations}"
    if database_exists(CORNERS_DB):
        try:
            if psql("SELECT max(description) FROM corners_made", CORNERS_DB) == wanted:
                return
        except subprocess.CalledProcessError:  # a build that did not finish
            pass
        psql(f'DROP DATABASE "{CORNERS_DB}" WITH (FORCE)')
    started = time.monotonic()
    psql(f'CREATE DATABASE "{CORNERS_DB}" TEMPLATE "{BENCH_DB}"')
    for sql in (
        corner_rows_sql(account=ACCOUNT, merchant="", rows=account_rows, other="merchant_id"),
        corner_rows_sql(account="", merchant=MERCHANT, rows=merchant_rows, other="account_id"),
    ):
        try:
            psql(sql, CORNERS_DB)
        except subprocess.CalledProcessError as error:
            raise SystemExit(f"making the corner rows failed: {error.stderr}") from error
    psql("VACUUM ANALYZE transactions_transaction", CORNERS_DB)
    psql(f"CREATE TABLE corners_made (description text); INSERT INTO corners_made VALUES ('{wanted}')", CORNERS_DB)  # noqa: S608
    print(
        f"made {CORNERS_DB} ({account_rows:,} / {merchant_rows:,} rows) in {time.monotonic() - started:.0f} s",
        flush=True,
    )


def case_rows(case: str, rows: list[dict], run: str) -> list[dict]:
    """The day-29 rows as `case` sends them."""
    if case == "ordinary":
        return rows
    out = []
    for position, row in enumerate(rows):
        row = dict(row, transaction_id=f"{case}-{row['transaction_id']}")
        if case == "old":
            at = datetime.fromisoformat(row["timestamp"])
            row["timestamp"] = (OLD_START + (at - datetime(2018, 4, 30, tzinfo=at.tzinfo))).isoformat()
        elif case == "instant":
            row["account_id"] = f"corner-instant-{run}-{position // 1000}"
            row["timestamp"] = "2018-04-30T12:00:00+00:00"
        elif case == "account":
            row["account_id"] = ACCOUNT
        elif case == "merchant":
            row["merchant_id"] = MERCHANT
        out.append(row)
    return out


def measure(args) -> None:
    from accounts.services import partner_token_create
    from detection.scoring.api_services import transaction_score, transactions_score_batch

    token, _ = partner_token_create(
        name=f"corners-{uuid.uuid4().hex[:6]}", scopes=["score"], organisation=bench_organisation()
    )
    source = token.source
    run = uuid.uuid4().hex[:8]
    per_case = (args.rounds * args.batches + 1) * args.batch + (args.rounds + 1) * args.single
    rows = request_rows(29, per_case, run)
    sent = {case: case_rows(case, rows, run) for case in CASES}
    cursor = dict.fromkeys(CASES, 0)

    def take(case: str, count: int) -> list[dict]:
        start = cursor[case]
        cursor[case] += count
        return sent[case][start : start + count]

    def batch(case: str) -> float:
        bodies = take(case, args.batch)
        started = time.perf_counter()
        transactions_score_batch(source=source, rows=bodies)
        return len(bodies) / (time.perf_counter() - started)

    def single(case: str) -> float:
        body = take(case, 1)[0]
        started = time.perf_counter()
        transaction_score(source=source, data=body)
        return (time.perf_counter() - started) * 1000

    for case in CASES:  # warm-up: the model loaded, the cache filled
        batch(case)
        for _ in range(args.single):
            single(case)
    rates = {case: [] for case in CASES}
    singles = {case: [] for case in CASES}
    for number in range(args.rounds):
        order = CASES if number % 2 == 0 else tuple(reversed(CASES))
        for case in order:
            rates[case] += [batch(case) for _ in range(args.batches)]
            singles[case] += [single(case) for _ in range(args.single)]
    base_rate, base_ms = statistics.median(rates["ordinary"]), statistics.median(singles["ordinary"])
    print(f"{'case':<10} {'batch rows/s':>13} {'ratio':>6} {'single ms':>10} {'ratio':>6}")
    for case in CASES:
        rate, ms = statistics.median(rates[case]), statistics.median(singles[case])
        print(f"{case:<10} {rate:>13,.0f} {rate / base_rate:>6.2f} {ms:>10.2f} {ms / base_ms:>6.2f}")
    print(
        f"(batch ratio: rows/s against ordinary's; single ratio: median time against ordinary's; medians of"
        f" {args.rounds * args.batches} batches of {args.batch} and {args.rounds * args.single} singles a case;"
        f" account {args.account_rows:,} rows, merchant {args.merchant_rows:,}; load average"
        f" {' '.join(f'{x:.1f}' for x in os.getloadavg())})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--account-rows", type=int, default=100_000)
    # The case is 10,000,000 rows: building them took longer than 13 minutes on the shared VM, and each of
    # its single scores would take minutes; 1,000,000 keeps `make bench` under its 15 minutes.
    parser.add_argument("--merchant-rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batches", type=int, default=1, help="Batches a case sends per round.")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--single", type=int, default=3, help="Single scores a case sends per round.")
    args = parser.parse_args()
    prepare()
    ensure_corners(args.account_rows, args.merchant_rows)
    os.environ["DB_CONN_MAX_AGE"] = "60"
    psql(f'DROP DATABASE IF EXISTS "{RUN_DB}" WITH (FORCE)')
    psql(f'CREATE DATABASE "{RUN_DB}" TEMPLATE "{CORNERS_DB}"')
    setup_django(RUN_DB)
    try:
        measure(args)
    finally:
        drop_copy(RUN_DB)


if __name__ == "__main__":
    main()
