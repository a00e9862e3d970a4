"""Channels group messages sent from synchronous code, on one event loop per process that outlives the call.

`async_to_sync(layer.group_send)` starts a thread and an event loop for every call, and channels-redis keeps its
Redis connections per event loop, so each message would open a new connection, inside every request that flags a
transaction. Here the loop (and so the connection pool) lives in a daemon thread,
made anew in a process forked after it was made (a Celery worker child, a gunicorn worker).
"""

import asyncio
import os
import threading

from channels.layers import get_channel_layer

SEND_TIMEOUT_SECONDS = 5.0

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def group_send(group: str, message: dict, *, timeout: float = SEND_TIMEOUT_SECONDS) -> None:
    """Send `message` to the channel layer group `group` and wait until it is handed to the layer; raises what the
    layer raises, or TimeoutError. Nothing is sent when no channel layer is configured."""
    layer = get_channel_layer()
    if layer is None:
        return
    future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), _process_loop())
    try:
        future.result(timeout=timeout)
    except TimeoutError:
        future.cancel()
        raise


def _process_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="channel-send", daemon=True).start()
        return _loop


def _forget_in_child() -> None:
    """A forked child has no thread running its parent's loop, and may have copied the lock held: both made anew."""
    global _lock, _loop
    _lock, _loop = threading.Lock(), None


os.register_at_fork(after_in_child=_forget_in_child)
