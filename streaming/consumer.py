"""The consumer's loop: fetch a micro-batch, store and score it, publish its decisions and dead letters, and only
then acknowledge it. Nothing is lost (a message is acknowledged after its transaction and score are committed and
its decision or dead letter is confirmed by the broker) and nothing is doubled (a redelivered message finds its
stored row and score, and its decision is published again).

The database work runs on one thread of its own (its Django connection lives there) while the event loop fetches
the next batch. A broker or PostgreSQL that does not answer is retried with backoff, and said so in the log.
"""

import asyncio
import contextlib
import logging
import random
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.db import connection

from streaming.brokers import Broker, Delivery, Topology
from streaming.heartbeat import heartbeat_remove, heartbeat_write, redis_client
from streaming.services import BatchOutcome

log = logging.getLogger("streaming.consumer")


def close_connection() -> None:
    """Close the calling thread's database connection (looked up in that thread, where it lives)."""
    connection.close()


def broker_for(url: str, *, topology: Topology, name: str, log) -> Broker:
    """The adapter for a broker URL: nats:// (JetStream) or amqp:// / amqps:// (RabbitMQ)."""
    scheme = url.split("://", 1)[0].lower()
    if scheme in ("nats", "tls"):
        from streaming.jetstream import JetStreamBroker

        return JetStreamBroker(url, topology=topology, name=name, log=log)
    if scheme in ("amqp", "amqps"):
        from streaming.rabbitmq import RabbitBroker

        return RabbitBroker(url, topology=topology, name=name, log=log)
    raise ValueError(f"--broker: {url!r} is neither nats:// nor amqp://")


class Backoff:
    """Waits that double from `first` to `most` seconds, with a little jitter; reset after a success."""

    def __init__(self, first: float = 0.5, most: float = 30.0):
        self.first, self.most, self.next = first, most, first

    def delay(self) -> float:
        delay = self.next * random.uniform(0.8, 1.2)
        self.next = min(self.most, self.next * 2)
        return delay

    def reset(self) -> None:
        self.next = self.first


@dataclass
class Counts:
    messages: int = 0
    decisions: int = 0
    dead_letters: int = 0
    errors: int = 0
    last_error: str = ""
    state: str = "starting"
    lag: int | None = None
    extra: dict = field(default_factory=dict)


class Consumer:
    """One consumer process's loop over one broker. `score(bodies)` runs on the database thread."""

    def __init__(
        self,
        *,
        broker: Broker,
        score: Callable[[list[bytes]], BatchOutcome],
        name: str,
        labels: dict,
        batch_size: int = 1000,
        fetch_timeout: float = 1.0,
        report_every: float = 5.0,
    ):
        self.broker, self.score, self.name, self.labels = broker, score, name, labels
        self.batch_size, self.fetch_timeout, self.report_every = batch_size, fetch_timeout, report_every
        self.counts = Counts()
        self.stopping = asyncio.Event()
        self.database = ThreadPoolExecutor(1, thread_name_prefix="stream-db")
        self.reports = ThreadPoolExecutor(1, thread_name_prefix="stream-report")
        self.redis = redis_client()
        self.handle_signals = True  # SIGTERM and SIGINT stop it after the batch in hand (main thread only)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        if self.handle_signals:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self.stopping.set)
        reporter = asyncio.create_task(self._report_every())
        try:
            await self._connect()
            await self._consume()
        finally:
            reporter.cancel()
            await self.broker.close()
            await loop.run_in_executor(self.database, close_connection)
            await loop.run_in_executor(self.reports, self._forget)
            self.database.shutdown()
            self.reports.shutdown()

    async def _connect(self) -> None:
        backoff = Backoff()
        while not self.stopping.is_set():
            try:
                await self.broker.connect()
                self.counts.state = "running"
                return
            except Exception as error:  # noqa: BLE001 - any failure to reach the broker is retried
                await self._trouble("the broker does not answer", error, backoff, state="connecting")

    async def _consume(self) -> None:
        fetching = asyncio.ensure_future(self._fetch())
        try:
            while not self.stopping.is_set():
                deliveries = await fetching
                if self.stopping.is_set():
                    break  # fetched but not handled: not acknowledged, so delivered again
                fetching = asyncio.ensure_future(self._fetch())  # the next batch arrives while this one is scored
                if deliveries:
                    await self._handle(deliveries)
        finally:
            fetching.cancel()

    async def _fetch(self) -> list[Delivery]:
        backoff = Backoff()
        while not self.stopping.is_set():
            try:
                return await self.broker.fetch(self.batch_size, self.fetch_timeout)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001
                await self._trouble("fetching from the broker failed", error, backoff, state="reconnecting")
        return []

    async def _handle(self, deliveries: list[Delivery]) -> None:
        outcome = await self._scored(deliveries)
        if outcome is None:
            return  # stopping: not acknowledged, delivered again
        decisions = [outcome.decisions[i] for i in range(len(deliveries)) if i in outcome.decisions]
        dead_letters = [outcome.dead_letters[i] for i in range(len(deliveries)) if i in outcome.dead_letters]
        try:
            await self.broker.publish(decisions=decisions, dead_letters=dead_letters)
            await self.broker.ack(deliveries)
        except Exception as error:  # noqa: BLE001 - not acknowledged: the broker delivers them again
            await self._trouble("publishing or acknowledging failed", error, Backoff(), state="reconnecting")
            return
        self.counts.messages += len(deliveries)
        self.counts.decisions += len(decisions)
        self.counts.dead_letters += len(dead_letters)
        self._running()

    async def _scored(self, deliveries: list[Delivery]) -> BatchOutcome | None:
        """The batch stored and scored, retried with backoff while PostgreSQL (or the model) is not there."""
        loop, backoff = asyncio.get_running_loop(), Backoff()
        bodies = [delivery.data for delivery in deliveries]
        while not self.stopping.is_set():
            try:
                return await loop.run_in_executor(self.database, self._score_on_thread, bodies)
            except Exception as error:  # noqa: BLE001 - PostgreSQL away, no active model, …: retried
                await self._trouble("scoring failed", error, backoff, state="reconnecting")
                with contextlib.suppress(Exception):  # the broker will deliver them again
                    await self.broker.extend(deliveries)
        return None

    def _score_on_thread(self, bodies: list[bytes]) -> BatchOutcome:
        try:
            return self.score(bodies)
        except Exception:
            close_connection()  # a connection PostgreSQL dropped is opened anew on the next try
            raise

    async def _trouble(self, what: str, error: Exception, backoff: Backoff, *, state: str) -> None:
        delay = backoff.delay()
        self.counts.errors += 1
        self.counts.last_error = f"{what}: {type(error).__name__}: {error}"[:500]
        self.counts.state = state
        log.warning(
            "%s; retrying in %.1f s",
            what,
            delay,
            extra={"consumer": self.name, "error": f"{type(error).__name__}: {error}", "retry_in_seconds": delay},
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=delay)

    def _running(self) -> None:
        if self.counts.state != "running":
            log.warning("consuming again", extra={"consumer": self.name})
            self.counts.state = "running"

    async def _report_every(self) -> None:
        """Write a report to Redis every `report_every` seconds: lag, rate, counts, errors, state."""
        loop = asyncio.get_running_loop()
        last_messages, last_time = 0, time.monotonic()
        while True:
            try:
                self.counts.lag = await asyncio.wait_for(self.broker.lag(), timeout=2)
            except Exception:  # noqa: BLE001 - the lag is unknown while the broker is away
                self.counts.lag = None
            now = time.monotonic()
            rate = (self.counts.messages - last_messages) / max(now - last_time, 1e-6)
            last_messages, last_time = self.counts.messages, now
            report = self._report(rate)
            try:
                await loop.run_in_executor(self.reports, self._write, report)
            except Exception as error:  # noqa: BLE001 - Redis away: reported next time
                log.warning("could not report to Redis", extra={"consumer": self.name, "error": repr(error)})
            await asyncio.sleep(self.report_every)

    def _report(self, rate: float) -> dict:
        counts = self.counts
        return self.labels | {
            "state": counts.state,
            "lag": counts.lag,
            "rate_per_s": round(rate, 1),
            "messages": counts.messages,
            "decisions": counts.decisions,
            "dead_letters": counts.dead_letters,
            "errors": counts.errors,
            "last_error": counts.last_error,
            "interval_seconds": self.report_every,
        }

    def _write(self, report: dict) -> None:
        heartbeat_write(self.redis, name=self.name, report=report)

    def _forget(self) -> None:
        with contextlib.suppress(Exception):  # else its report goes stale and is forgotten in time
            heartbeat_remove(self.redis, name=self.name)
