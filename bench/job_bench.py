"""Bulk scoring job benchmark: a 1,000,000-row file scored end to end with 1 and 2 Celery worker processes.

Each run gets a fresh copy of the benchmark database (CREATE DATABASE … TEMPLATE, see bench/api_common.py), starts
N worker processes (`celery worker -c 1` each), creates the job through the same service the API calls, and waits
until it is done. Prints rows/s, the time of the ingesting phase (every row stored) and of the scoring phase, each
worker's peak RSS and CPU seconds, the whole machine's busy CPU seconds (PostgreSQL included) and load average, and
the engine's raw rate on the same rows as a ratio. With --probe, a uvicorn server answers single-score requests
during the job and their p99 is printed too. BENCH_QUEUE names the Celery queue (default q-bench-api).

    .venv/bin/python bench/job_bench.py --rows 1000000 --workers 1,2
    .venv/bin/python bench/job_bench.py --rows 200000 --workers 2 --probe
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid

from api_common import (
    BENCH_DB,
    BENCH_ORGANISATION,
    ROOT,
    WORK,
    bench_env,
    children,
    fresh_copy,
    handbook_days,
    machine_cpu_ticks,
    peak_rss_mb,
    prepare,
    process_cpu_ticks,
    psql,
)

RUN_DB = BENCH_DB + "_job"
QUEUE = os.environ.get("BENCH_QUEUE", "q-bench-api")
TICKS = os.sysconf("SC_CLK_TCK")


def job_file(rows: int):
    import pyarrow.parquet as pq

    path = WORK / f"job-{rows}.parquet"
    if not path.exists():
        source = handbook_days(28, 183, WORK / "after-history.parquet")
        pq.write_table(pq.read_table(source).slice(0, rows), path)
    return path


def run_env(**extra: str) -> dict:
    """Every process of a run: the run database and this benchmark's own queue."""
    return bench_env(RUN_DB, CELERY_QUEUE=QUEUE, JOB_QUEUE=QUEUE, **extra)


def fresh_database() -> None:
    fresh_copy(RUN_DB)


def start_workers(count: int, chunk_rows: int) -> list[subprocess.Popen]:
    env = run_env(JOB_CHUNK_ROWS=str(chunk_rows))
    command = [sys.executable, "-m", "celery", "-A", "anomaly_site", "worker", "-Q", QUEUE, "-c", "1"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING"]
    workers = []
    for index in range(count):
        name = ["-n", f"bench{index}-{uuid.uuid4().hex[:4]}@%h"]
        workers.append(subprocess.Popen(command + name, cwd=ROOT, env=env, start_new_session=True))
    time.sleep(6)  # let them connect before the job is queued
    return workers


def worker_peaks(workers: list[subprocess.Popen]) -> list[dict]:
    return [
        {
            "main_mb": round(peak_rss_mb(w.pid)),
            "pool_mb": [round(peak_rss_mb(c)) for c in children(w.pid)],
            "cpu_s": round(sum(cpu_seconds(pid) for pid in (w.pid, *children(w.pid))), 1),
        }
        for w in workers
    ]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used."""
    return process_cpu_ticks([pid])[pid] / TICKS


def machine_busy_seconds() -> float:
    """CPU seconds all cores have spent not idle since boot (every process: workers, PostgreSQL, others)."""
    return machine_cpu_ticks()[0] / TICKS


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        process.wait(timeout=60)


def run_job(path, rows: int) -> dict:
    """Create the job in a subprocess set up on the run database; time it to done, and its ingesting phase."""
    code = f"""
from pathlib import Path
from django.core.files import File
from accounts.models import Organisation
from accounts.services import partner_token_create
from detection.jobs.services import scoring_job_create
organisation = Organisation.objects.get(name={BENCH_ORGANISATION!r})
token, _ = partner_token_create(name="bench-jobs", scopes=["score"], organisation=organisation)
with Path({str(path)!r}).open("rb") as handle:
    job = scoring_job_create(source=token.source, upload=File(handle, name="job.parquet"), mapping={{
        "transaction_id": "TRANSACTION_ID", "timestamp": "TX_DATETIME", "account_id": "CUSTOMER_ID",
        "merchant_id": "TERMINAL_ID", "amount": "TX_AMOUNT"}}, token=token)
print(job.pk)
"""
    busy, load = machine_busy_seconds(), os.getloadavg()[0]
    started = time.perf_counter()
    job_id = int(django_shell(code))
    ingested = None
    while True:
        query = f"SELECT status, phase FROM detection_scoringjob WHERE id = {job_id}"  # noqa: S608 - an int
        status, phase = psql(query, RUN_DB).split("|")
        if ingested is None and (phase == "scoring" or status != "running" and status != "pending"):
            ingested = time.perf_counter() - started
        if status in ("done", "failed"):
            break
        time.sleep(0.2)
    elapsed = time.perf_counter() - started
    if status != "done":
        raise RuntimeError(f"job {job_id} ended {status}")
    return {
        "seconds": elapsed,
        "ingest_seconds": ingested,
        "score_seconds": elapsed - ingested,
        "machine_busy_cpu_s": machine_busy_seconds() - busy,
        "load_before": load,
        "load_after": os.getloadavg()[0],
    }


def engine_rate(rows: int) -> float:
    """The engine alone on 100,000 of the job's stored rows (frame built outside the timing), the median of 3 calls."""
    code = """
import time
from accounts.models import Organisation
from detection.scoring import adapters
from detection.scoring import registry
from transactions.models import Transaction
organisation_id = Organisation.objects.get(name=BENCH_ORGANISATION).pk
stored = list(Transaction.objects.filter(source__name="bench-jobs").order_by("id")[:100000])
frame, targets = adapters.frame_for_transactions(stored, organisation_id=organisation_id)
loaded = registry.active_model(organisation_id=organisation_id)
# warm: the first call loads the kernels
loaded.detector.score_frame(*adapters.frame_for_transactions(stored[:1], organisation_id=organisation_id))
times = []
for _ in range(3):  # one call swung 20,972 to 31,083 rows/s between runs on a busy machine: the median of three
    started = time.perf_counter()
    loaded.detector.score_frame(frame, targets)
    times.append(time.perf_counter() - started)
print(len(stored) / sorted(times)[1])
"""
    return float(django_shell(f"BENCH_ORGANISATION = {BENCH_ORGANISATION!r}\n" + code))


class Probe(threading.Thread):
    """Single-score requests against a uvicorn server on the run database while the job runs."""

    def __init__(self):
        super().__init__(daemon=True)
        self.times: list[float] = []
        self.stop_flag = threading.Event()

    def run(self):
        sys.path.insert(0, str(ROOT / "bench"))
        from api_bench import Client, request_rows

        secret = psql_token()
        client = Client(secret)
        for row in request_rows(150, 20000, uuid.uuid4().hex[:6]):
            if self.stop_flag.is_set():
                return
            status, seconds, _ = client.post("/api/v1/transactions/score", row)
            self.times.append(seconds)
            time.sleep(0.02)


def django_shell(code: str) -> str:
    """Run Python in `manage.py shell` against the benchmark database; returns the last line it printed."""
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=run_env(),
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


def psql_token() -> str:
    code = (
        "from accounts.models import Organisation; from accounts.services import partner_token_create; "
        f"organisation = Organisation.objects.get(name={BENCH_ORGANISATION!r}); "
        "print(partner_token_create(name='probe', scopes=['score'], organisation=organisation)[1])"
    )
    return django_shell(code)


def one_run(rows: int, workers: int, chunk_rows: int, probe: bool) -> dict:
    fresh_database()
    path = job_file(rows)
    processes = start_workers(workers, chunk_rows)
    server = probe_thread = None
    try:
        if probe:
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "anomaly_site.asgi:application",
                    "--port",
                    os.environ.get("BENCH_PORT", "8765"),
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env=run_env(),
                start_new_session=True,
            )
            time.sleep(4)
            probe_thread = Probe()
            probe_thread.start()
        timing = run_job(path, rows)
        peaks = worker_peaks(processes)
    finally:
        if probe_thread:
            probe_thread.stop_flag.set()
        stop(processes + ([server] if server else []))
    result = {"rows": rows, "workers": workers, "chunk_rows": chunk_rows, **timing}
    result["rows_per_s"] = rows / timing["seconds"]
    result["peak_rss"] = peaks
    result["engine_rows_per_s"] = engine_rate(rows)
    result["ratio"] = result["rows_per_s"] / result["engine_rows_per_s"]
    if probe_thread and probe_thread.times:
        ordered = sorted(probe_thread.times)
        result["probe_requests"] = len(ordered)
        result["probe_median_ms"] = statistics.median(ordered) * 1000
        result["probe_p99_ms"] = ordered[int(0.99 * (len(ordered) - 1))] * 1000
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--probe", action="store_true", help="Measure single-score latency while the job runs.")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    prepare()
    for count in [int(n) for n in args.workers.split(",")]:
        for _ in range(args.runs):
            result = one_run(args.rows, count, args.chunk_rows, args.probe)
            print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}), flush=True)


if __name__ == "__main__":
    main()
