"""The cases pages' live rows over the queue's websocket, against the real Redis channel layer."""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from review.cases.selectors import cases_of
from review.cases.services import cases_bulk
from review.consumers import ReviewQueueConsumer
from review.models import Case
from tests.review.cases.conftest import flag

pytestmark = pytest.mark.django_db(transaction=True)


def _listen(user, query: str, action) -> str:
    """Connect with the page's query string, do `action` (database work that broadcasts after commit), and return
    the first message."""

    async def scenario():
        communicator = WebsocketCommunicator(ReviewQueueConsumer.as_asgi(), f"/ws/review/?{query}")
        communicator.scope["user"] = user
        connected, _ = await communicator.connect()
        assert connected
        await database_sync_to_async(action)()
        html = await communicator.receive_from(timeout=5)
        await communicator.disconnect()
        return html

    return async_to_sync(scenario)()


def test_a_case_assigned_to_me_is_sent_to_my_mine_view(organisation, lead, analyst):
    flag()
    case = Case.objects.get()

    def assign():
        cases_bulk(
            cases=cases_of(organisation_id=organisation.pk),
            user=lead,
            action="assign",
            assignee=analyst,
            organisation_id=organisation.pk,
        )

    html = _listen(analyst, "view=cases&assignee=me", assign)
    assert f'<tr id="case-row-{case.pk}"' in html
    assert 'data-live-into="#case-rows"' in html
    assert "<strong>me</strong>" in html


def test_a_case_reassigned_away_leaves_my_mine_view(organisation, lead, analyst, second_analyst):
    flag()
    case = Case.objects.get()
    Case.objects.update(assignee=analyst)

    def reassign():
        cases_bulk(
            cases=cases_of(organisation_id=organisation.pk),
            user=lead,
            action="assign",
            assignee=second_analyst,
            organisation_id=organisation.pk,
        )

    html = _listen(analyst, "view=cases&assignee=me", reassign)
    assert f'<tr id="case-row-{case.pk}" hx-swap-oob="delete">' in html


def test_a_new_flagged_transaction_joins_the_open_case_page_live(organisation, analyst):
    first = flag()
    case_id = Case.objects.get().pk
    holder = {}

    def arrive():
        holder["item"] = flag(amount="999.00")

    html = _listen(analyst, f"case={case_id}", arrive)
    assert f'<tr id="case-item-{holder["item"].pk}"' in html
    assert 'data-live-into="#case-item-rows"' in html
    assert first.pk != holder["item"].pk


def test_a_case_page_hears_nothing_of_another_organisations_case(organisation, other_organisation, other_analyst):
    flag()
    case_id = Case.objects.get().pk

    async def scenario():
        communicator = WebsocketCommunicator(ReviewQueueConsumer.as_asgi(), f"/ws/review/?case={case_id}")
        communicator.scope["user"] = other_analyst
        connected, _ = await communicator.connect()
        assert connected
        await database_sync_to_async(flag)()
        quiet = await communicator.receive_nothing(timeout=0.5)
        await communicator.disconnect()
        return quiet

    assert async_to_sync(scenario)()
