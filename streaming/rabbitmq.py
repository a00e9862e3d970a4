"""RabbitMQ: competing consumers on one durable queue bound to a topic exchange; decisions and dead letters are
published to the same exchange with publisher confirms, each routing key bound to a durable queue of its own."""

import asyncio
import contextlib

import aio_pika

from streaming.brokers import Delivery, Topology


class RabbitBroker:
    kind = "amqp"

    def __init__(self, url: str, *, topology: Topology, name: str, log):
        self.url, self.topology, self.name, self.log = url, topology, name, log
        self.connection = self.channel = self.exchange = None
        self.received: asyncio.Queue = asyncio.Queue()
        self.prefetch = 2000

    async def connect(self) -> None:
        self.connection = await aio_pika.connect_robust(
            self.url, timeout=5, reconnect_interval=1, client_properties={"connection_name": self.name}
        )
        self.connection.close_callbacks.add(self._lost)
        self.connection.reconnect_callbacks.add(self._reconnected)
        self.channel = await self.connection.channel(publisher_confirms=True)
        await self.channel.set_qos(prefetch_count=self.prefetch)
        topology = self.topology
        self.exchange = await self.channel.declare_exchange(
            topology.exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await self._queue_bound(topology.queue, topology.subject)
        await self._queue_bound(topology.decisions, topology.decisions)
        await self._queue_bound(topology.dead_letter, topology.dead_letter)
        await queue.consume(self._received)
        self.log.info(
            "connected to RabbitMQ",
            extra={"broker": _without_password(self.url), "queue": topology.queue, "exchange": topology.exchange},
        )

    async def _queue_bound(self, name: str, routing_key: str):
        queue = await self.channel.declare_queue(name, durable=True)
        await queue.bind(self.exchange, routing_key=routing_key)
        return queue

    async def _received(self, message) -> None:
        self.received.put_nowait(message)

    async def fetch(self, limit: int, timeout: float) -> list[Delivery]:
        try:
            first = await asyncio.wait_for(self.received.get(), timeout)
        except TimeoutError:
            return []
        messages = [first]
        while len(messages) < limit and not self.received.empty():
            messages.append(self.received.get_nowait())
        return [Delivery(message.body, message) for message in messages]

    async def publish(self, *, decisions: list[bytes], dead_letters: list[bytes]) -> None:
        """Publish and wait for the broker's confirm of every one."""
        routed = [(self.topology.decisions, body) for body in decisions]
        routed += [(self.topology.dead_letter, body) for body in dead_letters]
        await asyncio.wait_for(
            asyncio.gather(*(self.exchange.publish(_message(body), routing_key=key) for key, body in routed)),
            timeout=30,
        )

    async def ack(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            await delivery.handle.ack()

    async def extend(self, deliveries: list[Delivery]) -> None:
        """Nothing to do: RabbitMQ holds an unacknowledged message for as long as its channel lives."""

    async def lag(self) -> int | None:
        queue = await self.channel.declare_queue(self.topology.queue, passive=True)
        return queue.declaration_result.message_count

    async def close(self) -> None:
        if self.connection is not None and not self.connection.is_closed:
            with contextlib.suppress(Exception):  # closing a connection whose server is gone
                await self.connection.close()

    def _lost(self, *args) -> None:
        self.log.warning("lost the connection to RabbitMQ; reconnecting", extra={"broker": _without_password(self.url)})
        # Deliveries of the lost channel can no longer be acknowledged: RabbitMQ delivers them again.
        while not self.received.empty():
            self.received.get_nowait()

    def _reconnected(self, *args) -> None:
        self.log.warning("reconnected to RabbitMQ", extra={"broker": _without_password(self.url)})


def _message(body: bytes) -> aio_pika.Message:
    return aio_pika.Message(body, content_type="application/json", delivery_mode=aio_pika.DeliveryMode.PERSISTENT)


def _without_password(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()
    return url
