"""The queue's websocket against the real Redis channel layer and real database sessions."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from anomaly_site.asgi import application
from review.consumers import ReviewQueueConsumer
from review.models import ReviewItem
from review.services import review_claim, review_decide, review_items_create_for_scores
from tests.factories import ScoreFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _communicator(user, query: str = "") -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(ReviewQueueConsumer.as_asgi(), f"/ws/review/?{query}")
    communicator.scope["user"] = user
    return communicator


async def _connect(communicator: WebsocketCommunicator) -> None:
    connected, _ = await communicator.connect()
    assert connected


async def _flush_and_create(**score_kwargs) -> ReviewItem:
    """Create a flagged item the way detection does: the broadcast goes out when the transaction commits."""
    return (
        await database_sync_to_async(lambda: review_items_create_for_scores(scores=[ScoreFactory(**score_kwargs)]))()
    )[0]


def test_analyst_sees_a_newly_flagged_transaction_prepended_to_the_queue(analyst):
    async def scenario():
        communicator = _communicator(analyst)
        await _connect(communicator)
        item = await _flush_and_create()
        html = await communicator.receive_from(timeout=5)
        await communicator.disconnect()
        return item, html

    item, html = async_to_sync(scenario)()
    assert '<tbody hx-swap-oob="afterbegin:#queue-rows">' in html
    assert f'<tr id="item-{item.pk}"' in html and ">Claim</button>" in html
    assert 'id="queue-counts" class="counts" hx-swap-oob="true"' in html


def test_a_claim_by_someone_else_replaces_the_row_in_every_queue(analyst, second_analyst):
    item = review_items_create_for_scores(scores=[ScoreFactory()])[0]

    async def scenario():
        communicator = _communicator(analyst)
        await _connect(communicator)
        await database_sync_to_async(review_claim)(item=item, user=second_analyst)
        html = await communicator.receive_from(timeout=5)
        await communicator.disconnect()
        return html

    html = async_to_sync(scenario)()
    assert f'<tr id="item-{item.pk}"' in html and 'hx-swap-oob="true"' in html
    assert "bob" in html and ">Claim</button>" not in html


def test_a_decided_item_leaves_queues_that_show_open_items(analyst, second_analyst):
    item = review_items_create_for_scores(scores=[ScoreFactory()])[0]

    async def scenario():
        communicator = _communicator(analyst, "status=active")
        await _connect(communicator)
        await database_sync_to_async(review_decide)(item=item, user=second_analyst, decision="fraud")
        html = await communicator.receive_from(timeout=5)
        await communicator.disconnect()
        return html

    html = async_to_sync(scenario)()
    assert f'<tr id="item-{item.pk}" hx-swap-oob="delete"></tr>' in html


def test_a_queue_filtered_to_critical_does_not_receive_a_high_risk_row(analyst):
    async def scenario():
        communicator = _communicator(analyst, "risk=critical")
        await _connect(communicator)
        item = await _flush_and_create(risk_level="high")
        html = await communicator.receive_from(timeout=5)
        await communicator.disconnect()
        return item, html

    item, html = async_to_sync(scenario)()
    assert f'id="item-{item.pk}"' not in html
    assert 'id="queue-counts"' in html


def test_viewer_receives_rows_without_action_buttons(viewer):
    async def scenario():
        communicator = _communicator(viewer)
        await _connect(communicator)
        await _flush_and_create()
        html = await communicator.receive_from(timeout=5)
        await communicator.disconnect()
        return html

    html = async_to_sync(scenario)()
    assert "<tr id=" in html and ">Claim</button>" not in html


def test_user_without_the_permission_is_refused(outsider):
    async def scenario():
        communicator = _communicator(outsider)
        connected, code = await communicator.connect()
        return connected, code

    assert async_to_sync(scenario)() == (False, 4403)


def _full_stack(cookie: str = "") -> WebsocketCommunicator:
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, "/ws/review/", headers=headers)


def test_anonymous_socket_is_refused_through_the_real_routing():
    async def scenario():
        connected, _ = await _full_stack().connect()
        return connected

    assert async_to_sync(scenario)() is False


def test_logged_in_analyst_connects_through_the_real_routing_with_a_session_cookie(analyst):
    client = Client()
    client.force_login(analyst)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"

    async def scenario():
        communicator = _full_stack(cookie)
        connected, _ = await communicator.connect()
        await communicator.disconnect()
        return connected

    assert async_to_sync(scenario)() is True


def test_messages_sent_by_the_browser_are_ignored(analyst):
    async def scenario():
        communicator = _communicator(analyst)
        await _connect(communicator)
        await communicator.send_to(text_data='{"HEADERS": {}}')
        nothing = await communicator.receive_nothing(timeout=0.3)
        await communicator.disconnect()
        return nothing

    assert async_to_sync(scenario)() is True


def test_group_messages_reach_every_open_queue(analyst, second_analyst):
    async def scenario():
        first, second = _communicator(analyst), _communicator(second_analyst)
        await asyncio.gather(_connect(first), _connect(second))
        item = await _flush_and_create()
        htmls = await asyncio.gather(first.receive_from(timeout=5), second.receive_from(timeout=5))
        await asyncio.gather(first.disconnect(), second.disconnect())
        return item, htmls

    item, htmls = async_to_sync(scenario)()
    assert all(f'<tr id="item-{item.pk}"' in html for html in htmls)
