"""Where one single-score request's time goes, in-process (no HTTP): ingest, history, features, model, storage.

Uses the API benchmark's database (bench/api_common.py prepares it) and prints the median and p99 of
`transaction_score` over N unseen handbook rows, then a cProfile of the slowest parts.

    .venv/bin/python bench/score_path_profile.py --requests 500
    .venv/bin/python bench/score_path_profile.py --batch 1000 --requests 6 --sql   # SQL time per batch, by statement
    .venv/bin/python bench/score_path_profile.py --batch 1000 --requests 30 --django --cpu   # Python and PostgreSQL CPU
    .venv/bin/python bench/score_path_profile.py --django --profile   # through middleware, DRF, auth, throttling
    .venv/bin/python bench/score_path_profile.py --batch 1000 --requests 30 --django --gc --wal   # GC; WAL, commits
    .venv/bin/python bench/score_path_profile.py --batch 1000 --requests 30 --django --gc --gc-young 700   # Python's
    .venv/bin/python bench/score_path_profile.py --batch 1000 --requests 80 --django --scans   # whole-table reads
    .venv/bin/python bench/score_path_profile.py --requests 1000 --django \
        --time detection.engine.autoencoder:Autoencoder.errors,detection.engine.profile:FeatureProfile.rare_entries
        # wall time per request inside the named functions (module:qualified.name, class and static methods too),
        # as a request calls them: name a function where its caller looks it up (a module that imported it by name)
"""

import argparse
import collections
import contextlib
import cProfile
import json
import os
import pstats
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_common import (  # noqa: E402
    BENCH_DB,
    bench_organisation,
    drop_copy,
    fresh_copy,
    prepare,
    process_cpu_ticks,
    request_rows,
    setup_django,
)

RUN_DB = BENCH_DB + "_profile"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--profile", action="store_true", help="Print a cProfile of the timed requests.")
    parser.add_argument("--batch", type=int, default=0, help="Time batches of this many rows instead of singles.")
    parser.add_argument("--sql", action="store_true", help="Print the SQL statements' time per request, by kind.")
    parser.add_argument(
        "--cpu", action="store_true", help="Print the CPU per request of this process and of its PostgreSQL backend."
    )
    parser.add_argument(
        "--django", action="store_true", help="Send each request through Django's whole stack (no socket, no server)."
    )
    parser.add_argument("--gc", action="store_true", help="Print the garbage collector's time and collections.")
    parser.add_argument(
        "--gc-young", type=int, help="Collect the youngest generation after this many new objects (Python's: 700)."
    )
    parser.add_argument("--wal", action="store_true", help="Print the WAL written and the commits' time per request.")
    parser.add_argument(
        "--scans", action="store_true", help="Print the rows that sequential scans read per request, by table."
    )
    parser.add_argument(
        "--time",
        default="",
        help="Comma-separated module:qualified.name functions: print the wall time per request spent inside each"
        " (wrapped where the module defines it: a name imported elsewhere before the run keeps the original there).",
    )
    args = parser.parse_args()
    prepare()
    os.environ["DB_CONN_MAX_AGE"] = "60"  # as the API benchmark runs gunicorn: no new connection per request
    setup_django(fresh_copy(RUN_DB))  # the rows a run stores stay out of the prepared database
    try:
        profile_requests(args)
    finally:
        drop_copy(RUN_DB)


def profile_requests(args) -> None:
    from django.db import connection

    from accounts.services import partner_token_create
    from detection.scoring.api_services import transaction_score, transactions_score_batch

    token, secret = partner_token_create(
        name=f"profile-{uuid.uuid4().hex[:6]}", scopes=["score"], organisation=bench_organisation()
    )
    size = max(args.batch, 1)
    warmup = 2 if args.batch else 50
    rows = request_rows(29, (args.requests + warmup) * size, uuid.uuid4().hex[:8])
    requests = [rows[i : i + size] for i in range(0, len(rows), size)]
    if args.django:
        call = _through_django(secret, batch=bool(args.batch))
    elif args.batch:
        call = lambda bodies: transactions_score_batch(source=token.source, rows=bodies)  # noqa: E731
    else:
        call = lambda bodies: transaction_score(source=token.source, data=bodies[0])  # noqa: E731
    for bodies in requests[:warmup]:
        call(bodies)
    profile = cProfile.Profile() if args.profile else None
    statements: dict[str, list[float]] = collections.defaultdict(list)
    if args.gc_young:  # after the warm-up, which loaded the model and set the scoring processes' threshold
        import gc

        gc.set_threshold(args.gc_young, *gc.get_threshold()[1:])
    cpu_before = _cpu_seconds(connection)
    wal_before = _wal_position(connection)
    scans_before = _sequential_reads(connection) if args.scans else None
    with contextlib.ExitStack() as watching:
        if args.sql:
            watching.enter_context(connection.execute_wrapper(timing_into(statements)))
        collections_seen = watching.enter_context(_collections()) if args.gc else None
        commits = watching.enter_context(_commits()) if args.wal else None
        inside = watching.enter_context(_time_inside(args.time.split(","))) if args.time else None
        timings = _timed(call, requests[warmup:], profile)
    count = len(requests[warmup:])
    if collections_seen is not None:
        seconds, by_generation = collections_seen
        print(f"GC per request: {seconds[0] * 1000 / count:.2f} ms; collections by generation {by_generation}")
    if commits is not None:
        wal = _wal_bytes_since(connection, wal_before)
        print(
            f"WAL per request {wal / count / 1024:,.0f} kB; commit median {statistics.median(commits) * 1000:.2f} ms,"
            f" at most {max(commits) * 1000:.2f} ms ({len(commits)} commits)"
        )
    if inside is not None:
        for name, (seconds, calls) in sorted(inside.items(), key=lambda item: -item[1][0]):
            print(f"{seconds * 1000 / count:8.3f} ms/request {calls / count:5.1f}x  inside {name}")
    if scans_before is not None:
        after = _sequential_reads(connection)
        read = {table: (after[table] - before) / count for table, before in scans_before.items()}
        print("Rows read by sequential scans per request:", {table: round(n) for table, n in read.items() if n >= 1})
    if args.cpu:
        python, backend = (after - before for after, before in zip(_cpu_seconds(connection), cpu_before, strict=True))
        per = 1000 / len(requests[warmup:])
        print(f"CPU per request: Python {python * per:.1f} ms, PostgreSQL backend {backend * per:.1f} ms")
    timings.sort()
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    label = f"transactions_score_batch({size})" if args.batch else "transaction_score"
    label = f"POST /api/v1/transactions/score{'/batch' if args.batch else ''} ({size} rows)" if args.django else label
    median = statistics.median(timings)
    print(f"{label} in-process: median {median:.2f} ms, p99 {p99:.2f} ms, {size / median * 1000:,.0f} rows/s")
    for text, seconds in sorted(statements.items(), key=lambda item: -sum(item[1]))[:12]:
        count = len(timings)
        print(f"{sum(seconds) / count * 1000:8.1f} ms/request {len(seconds) / count:5.1f}x  {text}")
    if profile:
        order, top = os.environ.get("SORT", "cumulative"), int(os.environ.get("TOP", "30"))
        pstats.Stats(profile).sort_stats(order).print_stats(top)


def _through_django(secret: str, *, batch: bool):
    """A call sending the rows as one request through middleware, DRF, authentication and throttling."""
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {secret}")
    path = "/api/v1/transactions/score" + ("/batch" if batch else "")

    def call(bodies):
        body = {"transactions": bodies} if batch else bodies[0]
        response = client.post(path, data=json.dumps(body), content_type="application/json")
        if response.status_code not in (200, 201):
            raise SystemExit(f"{path} answered {response.status_code}: {response.content[:300]!r}")

    return call


def _timed(call, requests, profile) -> list[float]:
    timings = []
    for bodies in requests:
        started = time.perf_counter()
        if profile:
            profile.enable()
        call(bodies)
        if profile:
            profile.disable()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


@contextlib.contextmanager
def _time_inside(targets: list[str]):
    """Wrap each module:qualified.name function to add up the wall time spent inside it; unwrapped after."""
    import functools
    import importlib

    totals: dict[str, list] = {}
    restore = []
    for target in targets:
        module_name, _, qualified = target.partition(":")
        *path, name = qualified.split(".")
        owner = importlib.import_module(module_name)
        for part in path:
            owner = getattr(owner, part)
        original = owner.__dict__[name]
        total = totals[qualified] = [0.0, 0]
        kind = type(original) if isinstance(original, classmethod | staticmethod) else None
        function = original.__func__ if kind else original

        @functools.wraps(function)
        def timed(*args, _original=function, _total=total, **kwargs):
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                _total[0] += time.perf_counter() - started
                _total[1] += 1

        setattr(owner, name, kind(timed) if kind else timed)
        restore.append((owner, name, original))
    try:
        yield totals
    finally:
        for owner, name, original in restore:
            setattr(owner, name, original)


@contextlib.contextmanager
def _collections():
    """([seconds], [collections of generation 0, 1, 2]) spent by the garbage collector while inside."""
    import gc

    seconds, by_generation, started = [0.0], [0, 0, 0], [0.0]

    def callback(phase, info):
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            seconds[0] += time.perf_counter() - started[0]
            by_generation[info["generation"]] += 1

    gc.callbacks.append(callback)
    try:
        yield seconds, by_generation
    finally:
        gc.callbacks.remove(callback)


@contextlib.contextmanager
def _commits():
    """The seconds of every database commit made while inside (Django's commit, timed around it)."""
    from django.db.backends.base.base import BaseDatabaseWrapper

    seconds, original = [], BaseDatabaseWrapper._commit

    def timed(self):
        started = time.perf_counter()
        try:
            return original(self)
        finally:
            seconds.append(time.perf_counter() - started)

    BaseDatabaseWrapper._commit = timed
    try:
        yield seconds
    finally:
        BaseDatabaseWrapper._commit = original


def _wal_position(connection) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        return cursor.fetchone()[0]


def _wal_bytes_since(connection, position: str) -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)", [position])
        return float(cursor.fetchone()[0])


def _sequential_reads(connection) -> dict[str, int]:
    """Rows read so far by sequential scans of each of the database's tables (this backend's counts flushed first:
    it flushes them when it goes idle, forced between the two statements)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT relname, coalesce(seq_tup_read, 0) FROM pg_stat_user_tables")
        return dict(cursor.fetchall())


def _cpu_seconds(connection) -> tuple[float, float]:
    """CPU seconds used so far by this process and by its PostgreSQL backend (utime + stime from /proc)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    return time.process_time(), process_cpu_ticks([pid])[pid] / os.sysconf("SC_CLK_TCK")


def timing_into(statements: dict[str, list[float]]):
    def wrapper(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements[" ".join(sql.split())[:90]].append(time.perf_counter() - started)

    return wrapper


if __name__ == "__main__":
    main()
