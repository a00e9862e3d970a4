"""Streaming benchmark: published → stored, scored and decision published, with two consumers, beside the batch
endpoint's rows/s measured in the same run; then the publish → decision latency at half the streaming rate.

Each phase starts from a fresh copy of the prepared benchmark database (bench/api_common.py) and sends the same
handbook rows under the same ids, so both do the same work:

1. batch: gunicorn with two workers, two clients sending batches of 1,000 at once (bodies encoded beforehand);
2. throughput: two `manage.py consume` processes on NATS JetStream; the messages are published as fast as JetStream
   confirms them, and the rate is messages over the time from the first publish to the last decision stored in the
   decisions stream (also given: from the first decision to the last, the consumers' own pace);
3. latency: messages published at half the throughput's rate for --latency-seconds, each one's time from publish to
   its decision received by a subscriber; median and p99.

    .venv/bin/python bench/stream_bench.py                      # 100,000 messages
    .venv/bin/python bench/stream_bench.py --messages 30000 --latency-seconds 10
"""

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid

import orjson
from api_bench import PORT, SERVERS, _batches_from_clients, percentile, stop_server
from api_common import (
    BENCH_DB,
    ROOT,
    bench_env,
    bench_organisation,
    fresh_copy,
    prepare,
    request_rows,
    setup_django,
)

NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
RUN_DB = BENCH_DB + "_stream"


def batch_phase(secret: str, rows: list[dict], clients: int = 2) -> dict:
    """The batch endpoint's rows/s on these rows: a warm-up batch per worker, then `clients` clients at once."""
    from django.db import connection

    connection.close()  # the prepared database is the copy's template: nobody may be connected to it
    fresh_copy(RUN_DB)
    process = start_gunicorn()
    try:
        batches = [rows[start : start + 1000] for start in range(0, len(rows), 1000)]
        warm, rest = batches[:2], batches[2:]
        _batches_from_clients(secret, [[b] for b in warm])
        rest = rest[: len(rest) - len(rest) % clients]
        elapsed = _batches_from_clients(secret, [rest[i::clients] for i in range(clients)])
    finally:
        stop_server(process)
    return {"batch_rows": sum(len(b) for b in rest), "batch_rows_per_s": sum(len(b) for b in rest) / elapsed}


def start_gunicorn(timeout: float = 600) -> subprocess.Popen:
    """gunicorn with two workers on the run database, as api_bench.py starts it, given longer to start (a loaded
    machine takes minutes to import the models' libraries)."""
    import http.client

    env = bench_env(RUN_DB, DB_CONN_MAX_AGE="60")
    process = subprocess.Popen([sys.executable, *SERVERS["gunicorn"]], cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            return process
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError("gunicorn did not start")


class Consumers:
    """`manage.py consume` processes on the run database, each in its own process group."""

    def __init__(self, count: int, subject: str):
        self.subject = subject
        self.processes = []
        env = bench_env(RUN_DB)  # the Redis database and key prefix of this process too: their reports are read here
        for _ in range(count):
            command = [sys.executable, "manage.py", "consume", "--broker", NATS_URL, "--subject", subject]
            command += ["--decisions", f"{subject}.decisions", "--source", "bench-stream", "--report-every", "1"]
            self.processes.append(subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True))

    def wait_running(self, timeout: float = 300) -> None:
        from streaming.heartbeat import heartbeats_read, redis_client

        names = {f"{socket.gethostname()}-{p.pid}" for p in self.processes}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reports = heartbeats_read(redis_client())
            if all(reports.get(name, {}).get("state") == "running" for name in names):
                return
            if any(p.poll() is not None for p in self.processes):
                raise RuntimeError("a consumer stopped")
            time.sleep(0.3)
        raise RuntimeError("the consumers did not start")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            process.wait(timeout=60)


async def throughput(subject: str, bodies: list[bytes]) -> dict:
    """Publish every body (confirmed), then wait until the decisions stream holds one decision each."""
    import nats

    from streaming.brokers import stream_name

    nc = await nats.connect(NATS_URL)
    js = nc.jetstream(publish_async_max_pending=20_000)
    decisions = stream_name(f"{subject}.decisions")
    first: list[float] = []

    async def first_decision():
        while not (await js.stream_info(decisions)).state.messages:
            await asyncio.sleep(0.02)
        first.append(time.perf_counter() - started)

    started = time.perf_counter()
    watching = asyncio.create_task(first_decision())  # while publishing
    futures = []
    for index, body in enumerate(bodies):
        futures.append(await js.publish_async(subject, body))
        if index % 1000 == 999:
            await asyncio.sleep(0)  # publish_async rarely yields: let the watcher look
    await asyncio.gather(*futures)
    published = time.perf_counter() - started
    await watching
    while (await js.stream_info(decisions)).state.messages < len(bodies):
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - started
    await nc.close()
    return {
        "messages": len(bodies),
        "publish_seconds": published,
        "stream_seconds": elapsed,
        "stream_tx_per_s": len(bodies) / elapsed,
        "first_decision_seconds": first[0],
        "consumers_tx_per_s": len(bodies) / (elapsed - first[0]),
    }


async def latency(subject: str, rows: list[dict], rate: float, seconds: float) -> dict:
    """Publish at `rate` messages/s for `seconds`; each message's time from publish to its decision received."""
    import nats

    nc = await nats.connect(NATS_URL)
    js = nc.jetstream(publish_async_max_pending=20_000)
    sent: dict[str, float] = {}
    took: list[float] = []
    done = asyncio.Event()
    total = min(len(rows), int(rate * seconds))

    async def received(message):
        transaction_id = orjson.loads(message.data)["transaction_id"]
        at = sent.get(transaction_id)
        if at is not None:
            took.append(time.perf_counter() - at)
        if len(took) >= total:
            done.set()

    await nc.subscribe(f"{subject}.decisions", cb=received)
    tick, futures = 0.01, []
    started = time.perf_counter()
    for index, row in enumerate(rows[:total]):
        due = started + index / rate
        delay = due - time.perf_counter()
        if delay > tick:
            await asyncio.sleep(delay)
        sent[row["transaction_id"]] = time.perf_counter()
        futures.append(await js.publish_async(subject, orjson.dumps(row)))
    await asyncio.gather(*futures)
    try:
        await asyncio.wait_for(done.wait(), timeout=120)
    finally:
        await nc.close()
    return {
        "latency_rate_per_s": rate,
        "latency_messages": len(took),
        "latency_median_ms": statistics.median(took) * 1000,
        "latency_p99_ms": percentile(took, 0.99) * 1000,
    }


def stream_phase(rows: list[dict], latency_rows: list[dict], args) -> dict:
    from django.db import connection

    connection.close()
    fresh_copy(RUN_DB)
    subject = f"bench{uuid.uuid4().hex[:8]}.in"
    consumers = Consumers(args.consumers, subject)
    try:
        consumers.wait_running()
        bodies = [orjson.dumps(row) for row in rows]
        result = asyncio.run(throughput(subject, bodies))
        rate = result["stream_tx_per_s"] / 2
        result |= asyncio.run(latency(subject, latency_rows, rate, args.latency_seconds))
    finally:
        consumers.stop()
        asyncio.run(delete_streams(subject))
        connection.close()
    return result


async def delete_streams(subject: str) -> None:
    import nats

    from streaming.brokers import stream_name

    nc = await nats.connect(NATS_URL)
    js = nc.jetstream()
    for name in (subject, f"{subject}.decisions", f"{subject}.dead"):
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(stream_name(name))
    await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--consumers", type=int, default=2)
    parser.add_argument("--latency-seconds", type=float, default=20)
    parser.add_argument("--latency-rows", type=int, default=200_000, help="Rows for the latency phase, at most.")
    args = parser.parse_args()
    prepare()
    setup_django()
    from accounts.services import partner_token_create

    _, secret = partner_token_create(name="bench-stream", scopes=["score"], organisation=bench_organisation())
    run = uuid.uuid4().hex[:6]
    rows = request_rows(28, args.messages + args.latency_rows, run)
    main_rows, latency_rows = rows[: args.messages], rows[args.messages :]
    result = batch_phase(secret, main_rows)
    result |= stream_phase(main_rows, latency_rows, args)
    result["stream_to_batch"] = result["stream_tx_per_s"] / result["batch_rows_per_s"]
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}), flush=True)


if __name__ == "__main__":
    main()
