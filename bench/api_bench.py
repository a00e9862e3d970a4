"""Partner API benchmark: single-score latency, concurrent throughput and batch rows/s against a real server.

Starts each server on the benchmark database (see bench/api_common.py; prepared on first use), sends handbook
rows the store has not seen (so every request stores, computes history features, scores and writes its score),
and prints each figure beside the engine's raw scoring rate on the same rows, as a ratio. Last, single scores with and
without a review-queue websocket client connected (`--socket-single`, ABBA blocks): `socket_p99_change`.

    .venv/bin/python bench/api_bench.py                       # make run's server, daphne, uvicorn, granian; the floor
    .venv/bin/python bench/api_bench.py --servers gunicorn-uvicorn,daphne --runs 3   # make run's server, and the floor
    .venv/bin/python bench/api_bench.py --servers uvicorn --single 3000 --runs 3
    .venv/bin/python bench/api_bench.py --servers gunicorn --workers 4 --batch-clients 4 --batch-rows 28000
"""

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid

from api_common import (
    BENCH_DB,
    ROOT,
    bench_env,
    bench_organisation,
    children,
    fresh_copy,
    machine_cpu_ticks,
    prepare,
    process_cpu_ticks,
    psql,
    request_rows,
    setup_django,
)

PORT = int(os.environ.get("BENCH_PORT", "8765"))  # another port when a server already uses it
RUN_DB = BENCH_DB + "_run"
SERVERS = {
    "uvicorn": [
        "-m",
        "uvicorn",
        "anomaly_site.asgi:application",
        "--workers",
        "2",
        "--no-access-log",
        "--log-level",
        "warning",
        "--port",
        str(PORT),
    ],
    "daphne": ["-m", "daphne", "-p", str(PORT), "anomaly_site.asgi:application"],
    "gunicorn": [
        "-m",
        "gunicorn",
        "anomaly_site.wsgi:application",
        "-w",
        "2",
        "-b",
        f"127.0.0.1:{PORT}",
        "--log-level",
        "warning",
        "--no-control-socket",
    ],
    # What `make run` serves (anomaly_site/servers.py): gunicorn managing uvicorn workers on the ASGI application
    # (pages, the API and websockets), each worker with a pool of open database connections.
    "gunicorn-uvicorn": [
        "-m",
        "gunicorn",
        "anomaly_site.asgi:application",
        "-k",
        "uvicorn_worker.UvicornWorker",
        "-w",
        "2",
        "-b",
        f"127.0.0.1:{PORT}",
        "--log-level",
        "warning",
        "--no-control-socket",
    ],
    "granian": [
        "-m",
        "granian",
        "--interface",
        "asgi",
        "anomaly_site.asgi:application",
        "--workers",
        "2",
        "--port",
        str(PORT),
        "--log-level",
        "warning",
    ],
}
# Environment of each server beyond the benchmark's: persistent connections for WSGI workers, a pool for the ASGI
# servers that can hold one (uvicorn's and granian's workers run requests on threads of their own).
SERVER_ENV = {
    "gunicorn": {"DB_CONN_MAX_AGE": "60"},
    "uvicorn": {"DB_POOL": "1"},
    "gunicorn-uvicorn": {"DB_POOL": "1"},
    "granian": {"DB_POOL": "1"},
}

WORKER_FLAG = {
    "uvicorn": "--workers",
    "gunicorn": "-w",
    "gunicorn-uvicorn": "-w",
    "granian": "--workers",
}  # daphne: one


class Client:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, secret: str):
        self.connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
        self.headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}

    def post(self, path: str, body) -> tuple[int, float, bytes]:
        """`body`: the JSON itself (bytes) or what to encode."""
        payload = body if isinstance(body, bytes) else json.dumps(body)
        started = time.perf_counter()
        self.connection.request("POST", path, payload, self.headers)
        response = self.connection.getresponse()
        content = response.read()
        return response.status, time.perf_counter() - started, content


def start_server(name: str, workers: int, *, deadline_s: float = 240.0) -> subprocess.Popen:
    env = bench_env(RUN_DB, **{"DB_CONN_MAX_AGE": "0", **SERVER_ENV.get(name, {})})
    command = [sys.executable, *SERVERS[name]]
    if name in WORKER_FLAG:
        command[command.index(WORKER_FLAG[name]) + 1] = str(workers)
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + deadline_s  # a loaded machine takes a while to import the site in every worker
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"{name} did not start")


def stop_server(process: subprocess.Popen) -> None:
    import signal

    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def single(secret: str, rows: list[dict]) -> dict:
    client = Client(secret)
    for row in rows[:50]:  # warm up: connections, model load, caches
        client.post("/api/v1/transactions/score", row)
    times = []
    for row in rows[50:]:
        status, seconds, content = client.post("/api/v1/transactions/score", row)
        assert status == 201, (status, content[:300])
        times.append(seconds)
    return {
        "requests": len(times),
        "median_ms": statistics.median(times) * 1000,
        "p99_ms": percentile(times, 0.99) * 1000,
    }


def socket_cookie() -> str:
    """The session cookie of an analyst of the benchmark's organisation, made in the run's database."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.auth.models import Group
    from django.contrib.sessions.backends.db import SessionStore

    from accounts.models import Membership
    from accounts.services import ANALYST

    user = get_user_model().objects.create_user(username=f"bench-analyst-{uuid.uuid4().hex[:6]}")
    user.groups.add(Group.objects.get(name=ANALYST))
    Membership.objects.create(user=user, organisation=bench_organisation())
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"sessionid={session.session_key}"


class QueueSocket:
    """A browser's review-queue websocket (/ws/review/), open in a thread of its own, reading every update sent."""

    def __init__(self, cookie: str):
        self.cookie, self.received, self.opened = cookie, 0, threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._hold()), daemon=True)

    async def _hold(self) -> None:
        import websockets

        headers = {"Cookie": self.cookie, "Origin": f"http://127.0.0.1:{PORT}"}
        async with websockets.connect(f"ws://127.0.0.1:{PORT}/ws/review/", additional_headers=headers) as socket:
            self.opened.set()
            while not self.stop.is_set():
                try:
                    await asyncio.wait_for(socket.recv(), timeout=0.2)
                    self.received += 1
                except TimeoutError:
                    continue

    def __enter__(self) -> "QueueSocket":
        self.thread.start()
        if not self.opened.wait(30):
            raise SystemExit("the review queue's websocket did not open")
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(10)


def single_beside_socket(secret: str, rows: list[dict]) -> dict:
    """Sequential single scores in four blocks, without / with / with / without a review-queue websocket client
    connected (ABBA): each half's p99 and median, and how much the socket moved them."""
    client = Client(secret)
    cookie = socket_cookie()
    blocks = [rows[i::4] for i in range(4)]
    times: dict[bool, list[float]] = {False: [], True: []}
    received = 0
    for number, block in enumerate(blocks):
        connected = number in (1, 2)
        with QueueSocket(cookie) if connected else contextlib.nullcontext() as socket:
            for row in block:
                status, seconds, content = client.post("/api/v1/transactions/score", row)
                assert status == 201, (status, content[:300])
                times[connected].append(seconds)
            received += socket.received if socket else 0
    without, beside = percentile(times[False], 0.99), percentile(times[True], 0.99)
    return {
        "socket_p99_ms": beside * 1000,
        "no_socket_p99_ms": without * 1000,
        "socket_p99_change": beside / without - 1,
        "socket_median_change": statistics.median(times[True]) / statistics.median(times[False]) - 1,
        "socket_updates_received": received,
    }


FLOOR = "/api/v1/bench/floor/score"


def against_floor(secret: str, rows: list[dict], floor_rows: list[dict], singles: int, batch_size: int = 1000) -> dict:
    """The real endpoints and their floor alternating, request by request, then batch by batch (one client), so a
    machine growing busier or quieter weighs on both alike: medians, p99s and the ratios real / floor."""
    client = Client(secret)
    for real, floor in zip(rows[:50], floor_rows[:50], strict=True):  # warm up both
        client.post("/api/v1/transactions/score", real)
        client.post(FLOOR, floor)
    real_times, floor_times = [], []
    for real, floor in zip(rows[50:singles], floor_rows[50:singles], strict=True):
        status, seconds, content = client.post("/api/v1/transactions/score", real)
        assert status == 201, (status, content[:300])
        real_times.append(seconds)
        status, seconds, content = client.post(FLOOR, floor)
        assert status == 201, (status, content[:300])
        floor_times.append(seconds)
    real_rates, floor_rates = [], []
    real_batches = [rows[i : i + batch_size] for i in range(singles, len(rows) - batch_size + 1, batch_size)]
    floor_batches = [
        floor_rows[i : i + batch_size] for i in range(singles, len(floor_rows) - batch_size + 1, batch_size)
    ]
    for real, floor in zip(real_batches, floor_batches, strict=False):
        status, seconds, content = client.post("/api/v1/transactions/score/batch", {"transactions": real})
        assert status == 200, (status, content[:300])
        real_rates.append(len(real) / seconds)
        status, seconds, content = client.post(FLOOR + "/batch", {"transactions": floor})
        assert status == 200, (status, content[:300])
        floor_rates.append(len(floor) / seconds)
    result = {
        "paired_single_median_ms": statistics.median(real_times) * 1000,
        "floor_single_median_ms": statistics.median(floor_times) * 1000,
        "paired_single_p99_ms": percentile(real_times, 0.99) * 1000,
        "floor_single_p99_ms": percentile(floor_times, 0.99) * 1000,
    }
    result["single_median_vs_floor"] = result["paired_single_median_ms"] / result["floor_single_median_ms"]
    result["single_p99_vs_floor"] = result["paired_single_p99_ms"] / result["floor_single_p99_ms"]
    if real_rates:
        result |= {
            "paired_batch_rows_per_s": statistics.median(real_rates),
            "floor_batch_rows_per_s": statistics.median(floor_rates),
        }
        result["batch_share_of_floor"] = result["paired_batch_rows_per_s"] / result["floor_batch_rows_per_s"]
    return result


def concurrent(secret: str, rows: list[dict], clients: int) -> dict:
    shares = [rows[i::clients] for i in range(clients)]
    times: list[float] = []

    def work(share):
        client = Client(secret)
        for row in share:
            status, seconds, _ = client.post("/api/v1/transactions/score", row)
            assert status == 201, status
            times.append(seconds)

    elapsed = run_together(work, shares)
    # Its own key: the sequential figure's "p99_ms" is the single-score target's, and must not be overwritten.
    return {
        "clients": clients,
        "requests_per_s": len(times) / elapsed,
        "clients_p99_ms": percentile(times, 0.99) * 1000,
    }


def run_together(work, shares: list) -> float:
    """`work(share)` for every share at once, each in a thread of its own; the elapsed seconds."""
    threads = [threading.Thread(target=work, args=(share,)) for share in shares]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def batch(secret: str, rows: list[dict], clients: int, workers: int, server_pid: int, size: int = 1000) -> dict:
    """Batches of `size`: a warm-up batch for each server worker, sent at once (each fills its history cache), then
    one client's sequential batches (median rows/s), then `clients` clients at once, each sending as many batches
    (total rows/s: the clients start and stop together, so no client's last batch runs alone)."""
    batches = [rows[start : start + size] for start in range(0, len(rows), size)]
    warm, rest = batches[:workers], batches[workers:]
    sequential, parallel = rest[: len(rest) // 2], rest[len(rest) // 2 :]
    parallel = parallel[: len(parallel) - len(parallel) % clients]
    if not sequential or not parallel:
        raise SystemExit(f"--batch-rows too small for {workers} warm-up batches and {clients} clients")
    _batches_from_clients(secret, [[b] for b in warm])
    client = Client(secret)
    rates = []
    for items in sequential:
        status, seconds, content = client.post("/api/v1/transactions/score/batch", {"transactions": items})
        assert status == 200, (status, content[:300])
        assert json.loads(content)["counts"]["created"] == len(items)
        rates.append(len(items) / seconds)
    servers, backends = children(server_pid) or [server_pid], _backends()  # daphne serves from its own process
    (busy_before, total_before), client_before = machine_cpu_ticks(), time.process_time()
    servers_before, backends_before = process_cpu_ticks(servers), process_cpu_ticks(backends)
    elapsed = _batches_from_clients(secret, [parallel[i::clients] for i in range(clients)])
    client = time.process_time() - client_before
    busy_after, total_after = machine_cpu_ticks()
    servers_after, backends_after = process_cpu_ticks(servers), process_cpu_ticks(backends)
    busy, total = busy_after - busy_before, total_after - total_before
    ms_per_batch = 1000 / os.sysconf("SC_CLK_TCK") / len(parallel)
    return {
        "batches": len(rates),
        "rows_per_s": statistics.median(rates),
        "batch_clients": clients,
        "parallel_batches": len(parallel),
        "parallel_rows_per_s": sum(len(b) for b in parallel) / elapsed,
        # The whole machine during the parallel batches (server, PostgreSQL, this client, anything else running):
        # how busy its cores were, and the CPU time spent per 1,000-row batch.
        "parallel_cpu_busy": busy / total if total else 0.0,
        "parallel_cpu_ms_per_batch": busy / os.sysconf("SC_CLK_TCK") * 1000 / len(parallel),
        "parallel_client_cpu_ms_per_batch": client * 1000 / len(parallel),  # of that, this process's clients
        # ... the server's worker processes, and the run database's PostgreSQL backends
        "parallel_server_cpu_ms_per_batch": _spent(servers_before, servers_after) * ms_per_batch,
        "parallel_postgres_cpu_ms_per_batch": _spent(backends_before, backends_after) * ms_per_batch,
    }


def _backends() -> list[int]:
    """The PostgreSQL backends connected to the run's database (the server's workers, once they have served)."""
    from django.conf import settings

    name = settings.DATABASES["default"]["NAME"]
    query = f"SELECT pid FROM pg_stat_activity WHERE datname = '{name}'"  # noqa: S608 - the benchmark's own name
    return [int(pid) for pid in psql(query).split()]


def _spent(before: dict[int, int], after: dict[int, int]) -> int:
    return sum(ticks - before[pid] for pid, ticks in after.items() if pid in before)


def _batches_from_clients(secret: str, shares: list[list[list[dict]]]) -> float:
    """Each share's batches sent in order by a client of its own, all clients at once; the elapsed seconds.

    The bodies are encoded before the clock starts: a partner encodes its requests on its own machine, while here
    the clients share the server's cores, and encoding a large body takes CPU the server would lose.
    """
    bodies = [[json.dumps({"transactions": items}).encode() for items in share] for share in shares]

    def work(share):
        client = Client(secret)
        for body in share:
            status, _, content = client.post("/api/v1/transactions/score/batch", body)
            assert status == 200, (status, content[:300])

    return run_together(work, bodies)


ENGINE_REPEATS = 7


def engine_rates(transaction_ids: list[str]) -> dict:
    """The engine alone on the same stored rows: features frame built outside the timing, then score_frame (after one
    untimed call: this process's first compiles the tree descents or loads them from numba's cache, which a server
    does at start-up)."""
    from detection.scoring import adapters, registry
    from transactions.models import Transaction

    organisation_id = bench_organisation().pk
    loaded = registry.active_model(organisation_id=organisation_id)
    stored = list(Transaction.objects.filter(transaction_id__in=transaction_ids))
    # warm, as a server is before its first request
    loaded.detector.score_frame(*adapters.frame_for_transactions(stored[:1], organisation_id=organisation_id))
    frame, targets = adapters.frame_for_transactions(stored, organisation_id=organisation_id)
    bulk_times = []
    for _ in range(ENGINE_REPEATS):  # one call swung twofold on a busy machine: the median of several
        started = time.perf_counter()
        loaded.detector.score_frame(frame, targets)
        bulk_times.append(time.perf_counter() - started)
    bulk = len(stored) / statistics.median(bulk_times)
    one_times = []
    for tx in stored[:200]:
        frame, targets = adapters.frame_for_transactions([tx], organisation_id=organisation_id)
        started = time.perf_counter()
        loaded.detector.score_frame(frame, targets)
        one_times.append(time.perf_counter() - started)
    return {"engine_rows_per_s": bulk, "engine_single_ms": statistics.median(one_times) * 1000}


def fresh_run_database() -> None:
    """Every run starts from the prepared database: a run that stored the same handbook rows before (under other
    ids) would otherwise give the next one doubled histories, hence other features, scores and flag rates."""
    from django.conf import settings
    from django.db import connection

    connection.close()
    settings.DATABASES["default"]["NAME"] = fresh_copy(RUN_DB)


def run_server(name: str, secret: str, args) -> dict:
    fresh_run_database()
    run = uuid.uuid4().hex[:6]
    floor_count = args.floor_single + args.floor_batches * 1000 if args.floor_single else 0
    rows = request_rows(
        28, args.single + 50 + args.concurrent_requests + args.batch_rows + floor_count + args.socket_single, run
    )
    rows, socket_rows = rows[: len(rows) - args.socket_single], rows[len(rows) - args.socket_single :]
    single_rows = rows[: args.single + 50]
    concurrent_rows = rows[args.single + 50 : args.single + 50 + args.concurrent_requests]
    batch_rows = rows[args.single + 50 + args.concurrent_requests : len(rows) - floor_count]
    # The floor's rows are the same handbook rows under other ids: the same accounts, hence the same history reads.
    paired_rows = rows[len(rows) - floor_count :]
    floor_rows = [{**row, "transaction_id": "floor-" + row["transaction_id"]} for row in paired_rows]
    process = start_server(name, args.workers)
    try:
        result = {"server": name, **single(secret, single_rows)}
        result |= concurrent(secret, concurrent_rows, args.clients)
        result |= batch(secret, batch_rows, args.batch_clients, args.workers, process.pid)
        if floor_count:
            result |= against_floor(secret, paired_rows, floor_rows, args.floor_single)
        if args.socket_single:
            result |= single_beside_socket(secret, socket_rows)
    finally:
        stop_server(process)
    result |= engine_rates([r["transaction_id"] for r in batch_rows[2000:3000]])
    result["batch_ratio"] = result["rows_per_s"] / result["engine_rows_per_s"]
    # The #27 target's ratio: the batch clients at once against the engine.
    result["parallel_batch_ratio"] = result["parallel_rows_per_s"] / result["engine_rows_per_s"]
    result["single_ratio"] = result["engine_single_ms"] / result["median_ms"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", default="gunicorn-uvicorn,daphne,uvicorn,granian")
    parser.add_argument("--single", type=int, default=3000, help="Sequential single-score requests (after 50 warm-up).")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--concurrent-requests", type=int, default=2000)
    parser.add_argument(
        "--batch-rows",
        type=int,
        default=82000,
        help="Rows sent in batches of 1,000 (one warm-up batch per worker, half of the rest by one client, half by "
        "--batch-clients clients at once, as many each; 40 batches at once are a second and a half of a 2-core "
        "machine, ten were too few to tell two commits apart on a noisy one).",
    )
    parser.add_argument("--batch-clients", type=int, default=2, help="Clients sending batches at once.")
    parser.add_argument("--workers", type=int, default=2, help="Worker processes of uvicorn and gunicorn.")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--floor-single",
        type=int,
        default=1000,
        help="Single scores sent alternately to the real endpoint and its floor (0: no floor); then --floor-batches "
        "batches of 1,000 alternately to each.",
    )
    parser.add_argument("--floor-batches", type=int, default=8)
    parser.add_argument(
        "--socket-single",
        type=int,
        default=800,
        help="Single scores in four blocks, the middle two with a review-queue websocket client connected (0: none).",
    )
    args = parser.parse_args()
    prepare()
    setup_django()
    from accounts.services import partner_token_create

    # copied into each run's db
    _, secret = partner_token_create(name="bench-partner", scopes=["score", "read"], organisation=bench_organisation())
    for name in args.servers.split(","):
        results = [run_server(name, secret, args) for _ in range(args.runs)]
        for result in results:
            print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}), flush=True)
        if len(results) > 1:
            keys = [k for k, v in results[0].items() if isinstance(v, float)]
            print(
                json.dumps(
                    {
                        "server": name,
                        "median_of_runs": {k: round(statistics.median(r[k] for r in results), 3) for k in keys},
                    }
                )
            )


if __name__ == "__main__":
    main()
