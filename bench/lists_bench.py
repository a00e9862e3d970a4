"""Lists: a CSV of 1,000,000 entries imported into a list (target < 10 s), and the cost of a lookup in a list of
100,000 entries, one value at a time and in batches of 1,000 (target: microseconds).

The import is `list_entries_import` as the list's page runs it (read and normalise the CSV, COPY into the table while
reading, audit, commit), into a new list each run; "again" imports the same file into the same list
(every value already there: nothing written). Runs against a throw-away database (`bench_lists` unless
TEST_DB_NAME is set), created and dropped here.

    .venv/bin/python bench/lists_bench.py [--entries 1000000] [--lookup-entries 100000] [--runs 3]
"""

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "anomaly_site.test_settings")
os.environ.setdefault("TEST_DB_NAME", "bench_lists")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/4")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.db import connection  # noqa: E402

from accounts.models import Organisation  # noqa: E402
from rules.lists import services  # noqa: E402
from rules.lists.lookup import list_memberships, memberships_forget  # noqa: E402


def csv_bytes(count: int) -> bytes:
    """value,expires_at,note: account ids; one in ten with an expiry, one in ten with a note."""
    lines = ["value,expires_at,note"]
    for i in range(count):
        expires = "2099-01-31T00:00:00Z" if i % 10 == 3 else ""
        note = "chargeback ring" if i % 10 == 7 else ""
        lines.append(f"acct-{i:08d},{expires},{note}")
    return ("\n".join(lines) + "\n").encode()


def backend_cpu() -> float:
    """CPU seconds of this connection's PostgreSQL backend so far (same machine: its /proc entry)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_import(value_list, data: bytes) -> tuple[float, float, float, services.EntriesOutcome]:
    """Wall seconds, this process's CPU seconds and the PostgreSQL backend's, and the outcome."""
    backend, client, started = backend_cpu(), time.process_time(), time.perf_counter()
    outcome = services.list_entries_import(value_list=value_list, stream=io.BytesIO(data))
    wall = time.perf_counter() - started
    return wall, time.process_time() - client, backend_cpu() - backend, outcome


def bench_import(organisation, entries: int, runs: int) -> None:
    data = csv_bytes(entries)
    print(f"import of {entries:,} entries ({len(data) / 1e6:.1f} MB CSV):")
    seconds = []
    for run in range(runs):
        value_list = services.value_list_create(organisation_id=organisation.pk, name=f"bench_{run}", kind="account")
        elapsed, client, backend, outcome = timed_import(value_list, data)
        assert outcome.added == entries and outcome.error_count == 0, outcome
        seconds.append(elapsed)
        print(
            f"  run {run + 1}: {elapsed:.2f} s ({entries / elapsed:,.0f} entries/s); "
            f"CPU {client:.2f} s here, {backend:.2f} s PostgreSQL; load {os.getloadavg()[0]:.1f}"
        )
    again, _, _, outcome = timed_import(value_list, data)
    assert outcome.unchanged == entries, outcome
    print(f"  import_seconds median {statistics.median(seconds):.2f} (min {min(seconds):.2f}); again {again:.2f} s")


def bench_lookup(organisation, entries: int) -> None:
    value_list = services.value_list_create(organisation_id=organisation.pk, name="lookup", kind="account")
    services.list_entries_import(value_list=value_list, stream=io.BytesIO(csv_bytes(entries)))
    memberships_forget()
    started = time.perf_counter()
    membership = list_memberships(organisation_id=organisation.pk)["lookup"]
    loaded = time.perf_counter() - started
    rng = np.random.default_rng(7)
    # Half members (a tenth of them with an expiry), half not.
    probes = np.array([f"acct-{i:08d}" for i in rng.integers(0, entries * 2, size=100_000)], dtype=object)
    singles = [probes[i : i + 1] for i in range(20_000)]
    started = time.perf_counter()
    for single in singles:
        membership.contains(single)
    single_us = (time.perf_counter() - started) / len(singles) * 1e6
    batches = [probes[i : i + 1000] for i in range(0, len(probes), 1000)]
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        for batch in batches:
            membership.contains(batch)
        timings.append((time.perf_counter() - started) / len(probes) * 1e6)
    hits = int(membership.contains(probes).sum())
    print(f"lookup in a list of {entries:,} entries (loaded in {loaded:.2f} s; {hits:,} of 100,000 probes members):")
    print(f"  single_value_us {single_us:.2f} per call")
    per_value = statistics.median(timings)
    print(f"  batch_1000_us_per_value {per_value:.3f} ({per_value * 1000:.0f} µs a batch)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--lookup-entries", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        organisation = Organisation.objects.create(name="bench-lists")
        bench_import(organisation, args.entries, args.runs)
        # An organisation of its own: a process loads every list of an organisation, the imports' too.
        bench_lookup(Organisation.objects.create(name="bench-lookup"), args.lookup_entries)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
