"""Fixtures of the streaming tests: unique subjects and queues per test on the real NATS JetStream and RabbitMQ,
consumers as real processes (`manage.py consume`, to be killed) or in this process, messages and their readers."""

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import nats
import pytest
from django.conf import settings
from django.db import connection

from streaming.brokers import Topology, durable_name, stream_name
from streaming.consumer import Consumer, broker_for
from streaming.heartbeat import heartbeats_read, redis_client
from streaming.services import messages_score, stream_organisation, stream_source
from tests.detection.conftest import START, active_model, history, trained_model  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]
NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


@dataclass(frozen=True)
class Names:
    subject: str
    decisions: str
    dead_letter: str

    def topology(self, **rabbit) -> Topology:
        return Topology(
            subject=self.subject,
            decisions=self.decisions,
            dead_letter=self.dead_letter,
            durable=durable_name(self.subject),
            queue=rabbit.get("queue", ""),
            exchange=rabbit.get("exchange", ""),
        )

    def args(self) -> list[str]:
        return ["--subject", self.subject, "--decisions", self.decisions, "--dead-letter", self.dead_letter]


@pytest.fixture
def names():
    """Subjects of this test alone; their JetStream streams are deleted afterwards."""
    tag = uuid.uuid4().hex[:10]
    made = Names(f"t{tag}.in", f"t{tag}.decisions", f"t{tag}.dead")
    yield made
    asyncio.run(_delete_streams([made.subject, made.decisions, made.dead_letter]))


async def _delete_streams(subjects: list[str]) -> None:
    nc = await nats.connect(NATS_URL)
    js = nc.jetstream()
    for subject in subjects:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(stream_name(subject))
    await nc.close()


def transaction_body(n: int, *, prefix: str = "s", accounts: int = 20) -> dict:
    """A canonical transaction of one of the trained history's accounts, after that history."""
    at = START + timedelta(days=10, seconds=n)
    return {
        "transaction_id": f"{prefix}-{n}",
        "timestamp": at.isoformat(),
        "account_id": f"acct-{n % accounts:03d}",
        "amount": f"{10 + n % 97}.50",
        "merchant_id": f"m-{n % 60:03d}",
        "channel": "in_person",
    }


def encoded(bodies) -> list[bytes]:
    return [body if isinstance(body, bytes) else json.dumps(body).encode() for body in bodies]


def publish_nats(subject: str, bodies, *, url: str = NATS_URL) -> None:
    """Publish to JetStream, each confirmed stored (the stream must exist: a consumer made it)."""

    async def run():
        nc = await nats.connect(url)
        js = nc.jetstream(publish_async_max_pending=20_000)
        futures = [await js.publish_async(subject, body) for body in encoded(bodies)]
        await asyncio.gather(*futures)
        await nc.close()

    asyncio.run(run())


def read_stream(subject: str, *, expect: int, timeout: float = 120, url: str = NATS_URL) -> list[dict]:
    """Every message kept in the stream over `subject` (decisions or dead letters), waiting until `expect` are."""

    async def run():
        nc = await nats.connect(url)
        js = nc.jetstream()
        deadline = time.monotonic() + timeout
        while True:
            info = await js.stream_info(stream_name(subject))
            if info.state.messages >= expect or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        # An ephemeral consumer from the start, acknowledging nothing (so not held up at max_ack_pending).
        config = nats.js.api.ConsumerConfig(ack_policy=nats.js.api.AckPolicy.NONE)
        subscription = await js.pull_subscribe(subject, stream=stream_name(subject), config=config)
        found: list[dict] = []
        while len(found) < info.state.messages:
            try:
                batch = await subscription.fetch(5000, timeout=5)
            except nats.errors.TimeoutError:
                break
            found += [json.loads(message.data) for message in batch]
        await nc.close()
        return found

    return asyncio.run(run())


def wait_for(predicate, *, timeout: float = 120, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not true after {timeout} s: {predicate}")


class ConsumerProcess:
    """`manage.py consume` in its own process group, against this test database, its log in a file."""

    def __init__(self, broker: str, args: list[str], log: Path):
        self.broker, self.args, self.log = broker, args, log
        self.process: subprocess.Popen | None = None

    def env(self) -> dict:
        db = settings.DATABASES["default"]
        url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        return os.environ | {
            "DJANGO_SETTINGS_MODULE": "anomaly_site.test_settings",
            "DATABASE_URL": url,
            "TEST_DB_NAME": db["NAME"],
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }

    def start(self) -> "ConsumerProcess":
        command = [sys.executable, "manage.py", "consume", "--broker", self.broker, *self.args, "--report-every", "1"]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self

    def report(self) -> dict:
        """The consumer's latest report in Redis (named host-pid)."""
        return heartbeats_read(redis_client()).get(f"{socket.gethostname()}-{self.process.pid}", {})

    def wait_connected(self, timeout: float = 180) -> None:
        """Until it reports itself running (connected, its stream and durable consumer made)."""
        wait_for(lambda: self.report().get("state") == "running" or self.process.poll() is not None, timeout=timeout)
        assert self.process.poll() is None, self.log.read_text()

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def consumer_process(tmp_path):
    """Start consumer processes on demand; all stopped at the end."""
    started: list[ConsumerProcess] = []
    connection.close()  # the consumers open their own; ours reopens on next use

    def start(broker: str, args: list[str]) -> ConsumerProcess:
        consumer = ConsumerProcess(broker, args, tmp_path / f"consumer-{len(started)}.log").start()
        started.append(consumer)
        return consumer

    yield start
    for consumer in started:
        consumer.stop()


class ConsumerThread:
    """A consumer in this process (its loop on a thread of its own): quicker to start than a process."""

    def __init__(self, broker_url: str, topology: Topology, *, batch_size: int = 1000, source_name: str = ""):
        organisation = stream_organisation(None)
        source = stream_source(organisation=organisation, name=source_name or topology.subject)
        self.broker = broker_for(broker_url, topology=topology, name=f"test-{uuid.uuid4().hex[:6]}", log=_log())
        labels = {"broker": self.broker.kind, "subject": topology.subject, "organisation": organisation.name}
        self.consumer = Consumer(
            broker=self.broker,
            score=lambda bodies: messages_score(source=source, bodies=bodies),
            name=self.broker.name,
            labels=labels | {"source": source.name},
            batch_size=batch_size,
            report_every=0.5,
        )
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            self.loop.run_until_complete(self.consumer.run())
        except BaseException as error:  # noqa: BLE001 - reported to the test
            self.error = error

    def start(self) -> "ConsumerThread":
        self.consumer.handle_signals = False
        self.thread.start()
        wait_for(lambda: self.consumer.counts.state == "running" or self.error, timeout=30)
        assert self.error is None, self.error
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.consumer.stopping.set)
        self.thread.join(timeout=30)
        assert self.error is None, self.error


def _log():
    import logging

    return logging.getLogger("streaming")


@pytest.fixture
def consumer_thread():
    started: list[ConsumerThread] = []

    def start(broker_url: str, topology: Topology, **options) -> ConsumerThread:
        consumer = ConsumerThread(broker_url, topology, **options).start()
        started.append(consumer)
        return consumer

    yield start
    for consumer in started:
        if consumer.thread.is_alive():
            consumer.stop()
