"""What a consumer needs of a broker, whichever it is: fetch a micro-batch, publish decisions and dead letters
(confirmed by the broker before the inputs are acknowledged), acknowledge, tell the lag."""

import re
from dataclasses import dataclass
from typing import Any, Protocol

# The topology a consumer creates when missing keeps published messages this long (a week).
KEEP_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class Delivery:
    """One received message: its body, and the broker's handle to acknowledge it."""

    data: bytes
    handle: Any


@dataclass(frozen=True)
class Topology:
    """Where a consumer reads and writes. On NATS the names are subjects; on RabbitMQ they are routing keys on
    `exchange`, each with a durable queue of its own (`queue` for the input)."""

    subject: str
    decisions: str
    dead_letter: str
    stream: str = ""  # NATS: the stream over `subject`
    durable: str = ""  # NATS: the durable pull consumer every consumer shares
    queue: str = ""  # RabbitMQ: the input queue every consumer shares
    exchange: str = ""  # RabbitMQ


class Broker(Protocol):
    kind: str

    async def connect(self) -> None: ...

    async def fetch(self, limit: int, timeout: float) -> list[Delivery]: ...

    async def publish(self, *, decisions: list[bytes], dead_letters: list[bytes]) -> None: ...

    async def ack(self, deliveries: list[Delivery]) -> None: ...

    async def extend(self, deliveries: list[Delivery]) -> None: ...

    async def lag(self) -> int | None: ...

    async def close(self) -> None: ...


def stream_name(subject: str) -> str:
    """A JetStream stream name for a subject: `transactions.in` → `TRANSACTIONS_IN`."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", subject).upper()


def durable_name(subject: str) -> str:
    """The durable consumer all consumers of a subject share: `transactions.in` → `sentinel-transactions_in`."""
    return "sentinel-" + re.sub(r"[^A-Za-z0-9_-]", "_", subject)
