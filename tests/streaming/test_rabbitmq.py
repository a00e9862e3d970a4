"""Consumers on the real RabbitMQ: competing consumers on one queue store, score and decide every message once,
redelivery after a kill is absorbed, bad messages reach the dead-letter queue with their reasons."""

import asyncio
import contextlib
import json

import aio_pika
import pytest

from tests.streaming.conftest import AMQP_URL, transaction_body, wait_for
from tests.streaming.test_nats import scores_per_transaction, stored


@pytest.fixture
def rabbit(names):
    """The test's queues and exchange (made by the consumer), deleted afterwards."""
    topology = names.topology(queue=names.subject, exchange=f"x-{names.subject}")
    yield topology
    asyncio.run(_delete(topology))


async def _delete(topology) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    channel = await connection.channel()
    for queue in (topology.queue, topology.decisions, topology.dead_letter):
        await channel.queue_delete(queue)
    await channel.exchange_delete(topology.exchange)
    await connection.close()


def publish_amqp(topology, bodies) -> None:
    async def run():
        connection = await aio_pika.connect(AMQP_URL)
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(topology.exchange)
        payloads = [body if isinstance(body, bytes) else json.dumps(body).encode() for body in bodies]
        await asyncio.gather(*(exchange.publish(aio_pika.Message(p), routing_key=topology.subject) for p in payloads))
        await connection.close()

    asyncio.run(run())


def read_queue(name: str, *, expect: int, timeout: float = 120, unique: bool = False) -> list[dict]:
    """Take every message from a queue, waiting until `expect` have come (`unique`: of distinct transaction ids,
    as a redelivered message's decision comes twice)."""

    async def run():
        connection = await aio_pika.connect(AMQP_URL)
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=1000)
        queue = await channel.get_queue(name)
        found: list[dict] = []
        enough = asyncio.Event()

        async def received(message):
            await message.ack()
            found.append(json.loads(message.body))
            count = len({item.get("transaction_id") for item in found}) if unique else len(found)
            if count >= expect:
                enough.set()

        await queue.consume(received)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(enough.wait(), timeout)
        await connection.close()
        return found

    return asyncio.run(run())


@pytest.mark.django_db(transaction=True)
def test_competing_consumers_on_one_queue_store_score_and_decide_every_message_once(
    names, rabbit, active_model, consumer_thread
):
    for _ in range(2):
        consumer_thread(AMQP_URL, rabbit, batch_size=100)

    publish_amqp(rabbit, [transaction_body(n) for n in range(600)])
    decisions = read_queue(rabbit.decisions, expect=600)

    assert len({d["transaction_id"] for d in decisions}) == 600
    assert stored(names.subject) == 600
    assert scores_per_transaction(names.subject) == {1: 600}


@pytest.mark.django_db(transaction=True)
def test_bad_messages_go_to_the_dead_letter_queue_with_their_reasons(names, rabbit, active_model, consumer_thread):
    consumer_thread(AMQP_URL, rabbit)

    publish_amqp(rabbit, [transaction_body(1), b"[]", transaction_body(2) | {"account_id": ""}])
    letters = read_queue(rabbit.dead_letter, expect=2)
    decisions = read_queue(rabbit.decisions, expect=1)

    assert [d["transaction_id"] for d in decisions] == ["s-1"]
    reasons = sorted((e["field"] or "-", e["code"]) for letter in letters for e in letter["errors"])
    assert reasons[0] == ("-", "not_object") and reasons[1][0] == "account_id"


@pytest.mark.timeout(600)
@pytest.mark.django_db(transaction=True)
def test_a_consumer_killed_halfway_on_rabbitmq_loses_nothing_and_scores_nothing_twice(
    names, rabbit, active_model, consumer_process
):
    args = [*names.args(), "--queue", rabbit.queue, "--exchange", rabbit.exchange, "--batch-size", "100"]
    first = consumer_process(AMQP_URL, args)
    first.wait_connected()
    publish_amqp(rabbit, [transaction_body(n) for n in range(1500)])
    wait_for(lambda: stored(names.subject) >= 300, timeout=300, every=0.05)

    first.kill()
    second = consumer_process(AMQP_URL, args)
    second.wait_connected()
    decisions = read_queue(rabbit.decisions, expect=1500, timeout=300, unique=True)

    assert stored(names.subject) == 1500
    assert scores_per_transaction(names.subject) == {1: 1500}
    assert len({d["transaction_id"] for d in decisions}) == 1500
