"""Group messages from synchronous code: delivered through the real Redis channel layer, on one loop per process."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from anomaly_site import channel_send


def listen(group: str):
    """A channel of the real layer that is in `group`; returns a function receiving its next message."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)

    async def receive():
        return await asyncio.wait_for(layer.receive(channel), timeout=5)

    return async_to_sync(receive)


def test_a_message_sent_from_sync_code_reaches_the_groups_channels():
    receive = listen("send-test")
    channel_send.group_send("send-test", {"type": "test.hello", "n": 1})
    channel_send.group_send("send-test", {"type": "test.hello", "n": 2})
    assert receive() == {"type": "test.hello", "n": 1}
    assert receive() == {"type": "test.hello", "n": 2}


def test_messages_share_one_loop_and_a_forked_process_makes_its_own(monkeypatch):
    channel_send.group_send("send-test", {"type": "test.hello"})
    loop = channel_send._process_loop()
    channel_send.group_send("send-test", {"type": "test.hello"})
    assert channel_send._process_loop() is loop and loop.is_running()
    monkeypatch.setattr(channel_send.os, "getpid", lambda: -1)  # as in a child forked after the loop was made
    receive = listen("send-test-child")
    channel_send.group_send("send-test-child", {"type": "test.child"})
    assert channel_send._process_loop() is not loop
    assert receive() == {"type": "test.child"}


def test_nothing_is_sent_without_a_channel_layer(settings):
    settings.CHANNEL_LAYERS = {}
    channel_send.group_send("send-test", {"type": "test.hello"})  # no layer, no error


def test_a_layer_that_does_not_answer_gives_a_timeout(monkeypatch):
    class Silent:
        async def group_send(self, group, message):
            await asyncio.sleep(60)

    monkeypatch.setattr(channel_send, "get_channel_layer", Silent)
    with pytest.raises(TimeoutError):
        channel_send.group_send("send-test", {"type": "test.hello"}, timeout=0.2)
