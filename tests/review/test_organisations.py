"""Organisations never share the review workspace: another organisation's analyst sees, claims, decides and hears
nothing of the test organisation's queue, and its transactions on the same accounts and merchants change nothing on
the test organisation's pages."""

from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.services import ANALYST
from anomaly_site.asgi import application
from review.consumers import ReviewQueueConsumer
from review.models import ReviewDecision, ReviewItem
from review.selectors import review_queue_depth_gauge
from review.services import review_claim, review_claim_next, review_decide, review_items_create_for_scores
from tests.factories import ReviewItemFactory, ScoreFactory, SourceFactory, TransactionFactory, UserFactory

QUEUE = reverse("review:queue")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _rows(response) -> list[ReviewItem]:
    return list(response.context["page"].object_list)


def _other_item(other_organisation, **transaction_fields) -> ReviewItem:
    """An open item of the other organisation."""
    source = SourceFactory(organisation=other_organisation, name="other-source")
    return ReviewItemFactory(score__transaction__source=source, **transaction_fields)


@pytest.fixture
def other_client(client, other_analyst):
    client.force_login(other_analyst)
    return client


# ------------------------------------------------------------------ pages and actions


@pytest.mark.django_db
def test_another_organisations_analyst_sees_none_of_the_queue_and_zero_counts(open_items, other_client):
    response = other_client.get(QUEUE, {"status": "all"})

    assert response.status_code == 200
    assert _rows(response) == []
    assert response.context["counts"] == {"open": 0, "in_review": 0, "needs_info": 0, "mine": 0}


@pytest.mark.django_db
def test_the_organisations_own_analyst_sees_only_its_items(open_items, other_organisation, analyst_client):
    _other_item(other_organisation)

    response = analyst_client.get(QUEUE)

    assert {item.pk for item in _rows(response)} == {item.pk for item in open_items}
    assert response.context["counts"]["open"] == 3


@pytest.mark.django_db
def test_another_organisations_transaction_page_is_404(open_items, other_client):
    response = other_client.get(reverse("review:transaction", args=[open_items[0].transaction_id]))
    assert response.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["claim", "release", "decide", "note"])
def test_actions_on_another_organisations_item_are_404_and_change_nothing(action, open_items, other_client):
    item = open_items[0]

    response = other_client.post(reverse(f"review:{action}", args=[item.pk]), {"decision": "fraud", "note": "mine"})

    assert response.status_code == 404
    item.refresh_from_db()
    assert (item.status, item.assignee_id, item.decision) == ("open", None, "")
    assert not ReviewDecision.objects.exists()
    assert item.transaction.label is None


@pytest.mark.django_db
def test_claim_next_never_hands_out_another_organisations_item(open_items, other_client, other_analyst):
    response = other_client.post(reverse("review:claim_next"))

    assert response.status_code == 302 and response["Location"] == QUEUE
    assert not ReviewItem.objects.filter(status="in_review").exists()
    assert (
        review_claim_next(organisation_id=other_analyst.memberships.get().organisation_id, user=other_analyst) is None
    )


@pytest.mark.django_db
def test_claim_next_hands_out_the_own_organisations_item_before_a_higher_priority_foreign_one(
    other_organisation, organisation, analyst
):
    foreign = _other_item(other_organisation, score__score=0.999)
    own = ReviewItemFactory(score__score=0.9)

    claimed = review_claim_next(organisation_id=organisation.pk, user=analyst)

    assert claimed.pk == own.pk
    assert ReviewItem.objects.get(pk=foreign.pk).status == "open"


@pytest.mark.django_db
def test_a_user_of_two_organisations_switches_and_sees_each_ones_queue(
    client, organisation, other_organisation, open_items
):
    both = UserFactory(username="bea", roles=[ANALYST], organisations=[organisation, other_organisation])
    foreign = _other_item(other_organisation)
    client.force_login(both)

    seen = {}
    for chosen in (organisation, other_organisation):
        switched = client.post(reverse("organisation_switch"), {"organisation": chosen.pk, "next": QUEUE})
        assert switched.status_code == 302
        seen[chosen.name] = {item.pk for item in _rows(client.get(QUEUE))}

    assert seen == {"test-org": {item.pk for item in open_items}, "other-org": {foreign.pk}}
    assert client.get(reverse("review:transaction", args=[open_items[0].transaction_id])).status_code == 404


@pytest.mark.django_db
def test_another_organisations_history_on_the_same_account_and_merchant_changes_nothing_on_the_page(
    other_organisation, analyst_client, second_analyst
):
    own = ReviewItemFactory(
        score__transaction__account_id="acct-shared",
        score__transaction__merchant_id="m-shared",
        score__transaction__timestamp=T0,
    )
    before = analyst_client.get(reverse("review:transaction", args=[own.transaction_id]))
    other_source = SourceFactory(organisation=other_organisation, name="other-source")
    for minutes in (1, 2, 3):
        foreign = ReviewItemFactory(
            score__transaction__source=other_source,
            score__transaction__account_id="acct-shared",
            score__transaction__merchant_id="m-shared",
            score__transaction__timestamp=T0 - timedelta(minutes=minutes),
        )
        review_decide(item=foreign, user=second_analyst, decision="fraud")

    after = analyst_client.get(reverse("review:transaction", args=[own.transaction_id]))

    assert [tx.pk for tx in after.context["history"]] == [own.transaction_id]
    assert after.context["merchant"]["stats"] == before.context["merchant"]["stats"]
    assert after.context["merchant"]["stats"]["fraud"] == 0 and after.context["merchant"]["recent"] == []
    assert list(after.context["related"]) == []


@pytest.mark.django_db
def test_queue_depth_gauge_reports_each_organisation(open_items, other_organisation):
    _other_item(other_organisation)

    (family,) = list(review_queue_depth_gauge())

    depths = {(s.labels["organisation"], s.labels["status"]): s.value for s in family.samples}
    assert depths == {
        ("other-org", "open"): 1,
        ("other-org", "in_review"): 0,
        ("test-org", "open"): 3,
        ("test-org", "in_review"): 0,
    }


# ------------------------------------------------------------------ the queue's websocket


def _socket(user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(ReviewQueueConsumer.as_asgi(), "/ws/review/")
    communicator.scope["user"] = user
    return communicator


@pytest.mark.django_db(transaction=True)
def test_another_organisations_queue_socket_hears_nothing_of_new_or_changed_items(analyst, other_analyst):
    async def scenario():
        own, foreign = _socket(analyst), _socket(other_analyst)
        assert (await own.connect())[0] and (await foreign.connect())[0]
        item = (await database_sync_to_async(lambda: review_items_create_for_scores(scores=[ScoreFactory()]))())[0]
        created = await own.receive_from(timeout=5)
        await database_sync_to_async(review_claim)(item=item, user=analyst)
        changed = await own.receive_from(timeout=5)
        silent = await foreign.receive_nothing(timeout=0.5)
        await own.disconnect()
        await foreign.disconnect()
        return item, created, changed, silent

    item, created, changed, silent = async_to_sync(scenario)()
    assert f'<tr id="item-{item.pk}"' in created and f'<tr id="item-{item.pk}"' in changed
    assert silent is True


@pytest.mark.django_db(transaction=True)
def test_a_user_of_no_organisation_is_refused_by_the_queue_socket(db):
    homeless = UserFactory(username="nomad", roles=[ANALYST], organisations=[])

    async def scenario():
        return await _socket(homeless).connect()

    assert async_to_sync(scenario)() == (False, 4403)


@pytest.mark.django_db(transaction=True)
def test_the_socket_follows_the_organisation_chosen_in_the_session(organisation, other_organisation):
    """Through the real routing with a session cookie: a user of both organisations (whose first, by name, is the
    other one) switches to the test organisation; the socket hears its items and none of the other's."""
    both = UserFactory(username="bea", roles=[ANALYST], organisations=[organisation, other_organisation])
    client = Client()
    client.force_login(both)
    client.post(reverse("organisation_switch"), {"organisation": organisation.pk})
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver"), (b"cookie", cookie.encode())]
    other_source = SourceFactory(organisation=other_organisation, name="other-source")

    def create(**fields) -> ReviewItem:
        return review_items_create_for_scores(scores=[ScoreFactory(transaction=TransactionFactory(**fields))])[0]

    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/review/", headers=headers)
        assert (await communicator.connect())[0]
        foreign = await database_sync_to_async(create)(source=other_source)
        quiet = await communicator.receive_nothing(timeout=0.5)
        own = await database_sync_to_async(create)()
        html = await communicator.receive_from(timeout=5)
        await communicator.disconnect()
        return own, quiet, foreign, html

    own, quiet, foreign, html = async_to_sync(scenario)()
    assert quiet is True
    assert f'<tr id="item-{own.pk}"' in html and f"item-{foreign.pk}" not in html
