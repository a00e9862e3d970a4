"""Where a bulk job's scoring time goes: one chunk of handbook rows stored as a job stores it, then scored in-process.

Runs on a fresh copy of the API benchmark's database (bench/api_common.py prepares it): stores `--rows` unseen
handbook rows by COPY (what a job's storing phase does), commits, then times `score_stored` on them as a job chunk
does, with the history cache warm (a first chunk of the same size fills it, as a worker's first chunk would).

    .venv/bin/python bench/chunk_profile.py --rows 33000            # seconds per phase
    .venv/bin/python bench/chunk_profile.py --rows 33000 --profile  # and a cProfile of the scoring
"""

import argparse
import collections
import contextlib
import cProfile
import os
import pstats
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_common import (  # noqa: E402
    BENCH_DB,
    MAPPING,
    bench_organisation,
    drop_copy,
    fresh_copy,
    handbook_days,
    prepare,
    setup_django,
)
from score_path_profile import timing_into  # noqa: E402

RUN_DB = BENCH_DB + "_chunk"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sql", action="store_true", help="Print the second chunk's SQL time by statement.")
    args = parser.parse_args()
    prepare()
    fresh_copy(RUN_DB)
    try:
        run(args)
    finally:
        drop_copy(RUN_DB)


def run(args) -> None:
    setup_django(RUN_DB)
    from django.db import connection, transaction

    from detection.scoring.services import StoredRows, score_stored
    from transactions.files import read_mapped_chunks
    from transactions.services import source_get_or_create, transactions_store_frame

    path = handbook_days(28, 35, Path("/tmp/bench-api/days-28-35.parquet"))  # noqa: S108
    frame = next(read_mapped_chunks(path, mapping=MAPPING, chunk_rows=2 * args.rows)).frame
    frame["transaction_id"] = uuid.uuid4().hex[:6] + "-" + frame["transaction_id"].astype(str)
    source = source_get_or_create(organisation=bench_organisation(), name="chunk-profile")
    chunks = [frame.iloc[i : i + args.rows] for i in (0, args.rows)]
    if len(chunks[1]) < args.rows:
        raise SystemExit(f"only {len(frame)} rows in the days read; ask for fewer")
    for chunk in chunks:
        started = time.perf_counter()
        with transaction.atomic():
            transactions_store_frame(source=source, frame=chunk)
        print(f"stored {len(chunk):,} rows in {time.perf_counter() - started:.2f} s", flush=True)
    ids = [chunk["transaction_id"].tolist() for chunk in chunks]
    started = time.perf_counter()
    result = score_stored(stored=StoredRows(source_id=source.pk, transaction_ids=ids[0]))
    print(f"first chunk (fills the history cache): {result.scored:,} rows in {time.perf_counter() - started:.2f} s")
    profile = cProfile.Profile() if args.profile else None
    started, cpu = time.perf_counter(), time.process_time()
    if profile:
        profile.enable()
    statements: dict[str, list[float]] = collections.defaultdict(list)
    with connection.execute_wrapper(timing_into(statements)) if args.sql else contextlib.nullcontext():
        result = score_stored(stored=StoredRows(source_id=source.pk, transaction_ids=ids[1]))
    if profile:
        profile.disable()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    rate, flagged = result.scored / seconds, result.flagged
    print(f"second chunk: {result.scored:,} rows scored in {seconds:.2f} s = {rate:,.0f} rows/s, {flagged:,} flagged")
    print(f"  this process's CPU {cpu:.2f} s (PostgreSQL's not included; steadier than wall time on a busy machine)")
    for text, spent in sorted(statements.items(), key=lambda item: -sum(item[1]))[:10]:
        print(f"{sum(spent) * 1000:8.1f} ms {len(spent):4d}x  {text}")
    if profile:
        order, top = os.environ.get("SORT", "cumulative"), int(os.environ.get("TOP", "40"))
        pstats.Stats(profile).sort_stats(order).print_stats(top)


if __name__ == "__main__":
    main()
