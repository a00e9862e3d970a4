"""NATS JetStream: a durable pull consumer over a stream of the input subject, shared by every consumer; decisions
and dead letters go to subjects that streams of their own keep (each made when missing)."""

import asyncio
import contextlib

import nats
from nats.js import api
from nats.js.errors import NotFoundError

from streaming.brokers import KEEP_SECONDS, Delivery, Topology, stream_name

# A delivered message not acknowledged within ACK_WAIT seconds goes to another consumer (the one it went to died).
ACK_WAIT = 30
# Messages delivered and not yet acknowledged, over all consumers of the durable (JetStream's default is 1,000).
MAX_ACK_PENDING = 50_000


class JetStreamBroker:
    kind = "nats"

    def __init__(self, url: str, *, topology: Topology, name: str, log):
        self.url, self.topology, self.name, self.log = url, topology, name, log
        self.nc = self.js = self.subscription = None
        self.closing = False

    async def connect(self) -> None:
        self.nc = await nats.connect(
            self.url,
            name=self.name,
            connect_timeout=3,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            disconnected_cb=self._disconnected,
            reconnected_cb=self._reconnected,
            error_cb=self._error,
        )
        self.js = self.nc.jetstream(publish_async_max_pending=20_000)
        topology = self.topology
        stream = topology.stream or stream_name(topology.subject)
        stream = await self._stream_over(topology.subject, name=stream)
        await self._stream_over(topology.decisions, name=stream_name(topology.decisions))
        await self._stream_over(topology.dead_letter, name=stream_name(topology.dead_letter))
        config = api.ConsumerConfig(
            ack_policy=api.AckPolicy.EXPLICIT, ack_wait=ACK_WAIT, max_ack_pending=MAX_ACK_PENDING
        )
        self.subscription = await self.js.pull_subscribe(
            topology.subject, durable=topology.durable, stream=stream, config=config, pending_msgs_limit=-1
        )
        self.log.info(
            "connected to NATS",
            extra={"broker": self.url, "stream": stream, "durable": topology.durable, "subject": topology.subject},
        )

    async def _stream_over(self, subject: str, *, name: str) -> str:
        """The stream that holds `subject`, made (as `name`, kept a week) when none does."""
        try:
            return await self.js.find_stream_name_by_subject(subject)
        except NotFoundError:
            pass
        config = api.StreamConfig(name=name, subjects=[subject], storage=api.StorageType.FILE, max_age=KEEP_SECONDS)
        try:
            await self.js.add_stream(config)
            self.log.info("created the JetStream stream", extra={"stream": name, "subject": subject})
        except nats.js.errors.BadRequestError:  # made by another consumer meanwhile
            pass
        return await self.js.find_stream_name_by_subject(subject)

    async def fetch(self, limit: int, timeout: float) -> list[Delivery]:
        try:
            messages = await self.subscription.fetch(batch=limit, timeout=timeout)
        except (nats.errors.TimeoutError, TimeoutError):  # nothing came within the timeout
            return []
        return [Delivery(message.data, message) for message in messages]

    async def publish(self, *, decisions: list[bytes], dead_letters: list[bytes]) -> None:
        """Publish and wait for JetStream's acknowledgement of every one (stored in its stream)."""
        publish = self.js.publish_async
        futures = [await publish(self.topology.decisions, body) for body in decisions]
        futures += [await publish(self.topology.dead_letter, body) for body in dead_letters]
        if futures:
            await asyncio.wait_for(asyncio.gather(*futures), timeout=30)

    async def ack(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            await delivery.handle.ack()

    async def extend(self, deliveries: list[Delivery]) -> None:
        """Still working on them: JetStream restarts their acknowledgement wait."""
        for delivery in deliveries:
            await delivery.handle.in_progress()

    async def lag(self) -> int | None:
        info = await self.subscription.consumer_info()
        return info.num_pending

    async def close(self) -> None:
        self.closing = True
        if self.nc is not None and not self.nc.is_closed:
            with contextlib.suppress(Exception):  # closing a connection whose server is gone
                await self.nc.close()

    async def _disconnected(self) -> None:
        if not self.closing:
            self.log.warning("lost the connection to NATS; reconnecting", extra={"broker": self.url})

    async def _reconnected(self) -> None:
        self.log.warning("reconnected to NATS", extra={"broker": self.url})

    async def _error(self, error: Exception) -> None:
        self.log.warning("NATS error", extra={"broker": self.url, "error": repr(error)})
