"""Live updates stay up while nothing happens: the queue's and the bell's sockets, held idle for a minute against
daphne and the real Redis channel layer, still receive the next update (redis-py's socket timeout once cut
channels-redis's blocking read and closed every idle socket with 1011 every few seconds)."""

import asyncio
import time
from functools import partial

import pytest
import websockets
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from alerts.live import bell_broadcast
from tests.e2e.conftest import in_thread
from tests.e2e.seed import flag_new_transaction

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

IDLE_SECONDS = 60


def _session_cookie(user) -> str:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"sessionid={session.session_key}"


async def _idle_then_receive(url: str, origin: str, cookie: str, after_idle) -> str:
    headers = {"Cookie": cookie, "Origin": origin}
    async with websockets.connect(url, additional_headers=headers, open_timeout=10) as socket:
        started = time.monotonic()
        while time.monotonic() - started < IDLE_SECONDS:
            try:  # anything sent while idle is fine; a close is not (recv raises ConnectionClosed)
                await asyncio.wait_for(socket.recv(), timeout=IDLE_SECONDS - (time.monotonic() - started))
            except TimeoutError:
                break
        await asyncio.to_thread(after_idle)
        return await asyncio.wait_for(socket.recv(), timeout=10)


def test_idle_sockets_stay_open_for_a_minute_and_still_receive_updates(asgi_server, analyst):
    cookie = _session_cookie(analyst)
    ws = asgi_server.replace("http://", "ws://")
    ring_the_bell = partial(bell_broadcast, organisation_id=analyst.memberships.get().organisation_id)

    async def both():
        return await asyncio.gather(
            _idle_then_receive(f"{ws}/ws/review/", asgi_server, cookie, lambda: in_thread(flag_new_transaction)),
            _idle_then_receive(f"{ws}/ws/alerts/", asgi_server, cookie, ring_the_bell),
        )

    queue_update, bell_update = asyncio.run(both())

    assert "queue-row" in queue_update or "queue-rows" in queue_update
    assert "bell" in bell_update
