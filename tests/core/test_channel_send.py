"""Group messages from synchronous code: delivered through the real Redis channel layer, on one loop per process."""

import asyncio
import os

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from core import channel_send


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


def test_messages_share_one_loop():
    channel_send.group_send("send-test", {"type": "test.hello"})
    loop = channel_send._process_loop()
    channel_send.group_send("send-test", {"type": "test.hello"})
    assert channel_send._process_loop() is loop and loop.is_running()


def test_a_process_forked_after_a_message_sends_on_a_loop_of_its_own():
    channel_send.group_send("send-test", {"type": "test.hello"})  # the parent's loop and its thread exist
    receive = listen("send-test-child")
    pid = os.fork()
    if pid == 0:  # the child: its parent's loop has no thread here
        try:
            channel_send.group_send("send-test-child", {"type": "test.child"}, timeout=5)
        except BaseException:  # noqa: BLE001 - any failure is the exit code the parent checks
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert receive() == {"type": "test.child"}


def test_nothing_is_sent_without_a_channel_layer(settings, monkeypatch):
    settings.CHANNEL_LAYERS = {}
    monkeypatch.setattr(channel_send, "_process_loop", lambda: pytest.fail("a message was sent"))
    channel_send.group_send("send-test", {"type": "test.hello"})  # no layer: no loop, no error


def test_a_layer_that_does_not_answer_gives_a_timeout(monkeypatch):
    class Silent:
        async def group_send(self, group, message):
            await asyncio.sleep(60)

    monkeypatch.setattr(channel_send, "get_channel_layer", Silent)
    with pytest.raises(TimeoutError):
        channel_send.group_send("send-test", {"type": "test.hello"}, timeout=0.2)
