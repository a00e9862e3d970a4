"""In-app alerts: the header bell's partial, marking alerts read, and live updates over Channels."""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse

from alerts.models import AlertReadMark
from alerts.services import alerts_evaluate
from anomaly_site.routing import websocket_urlpatterns
from tests.alerts.helpers import scored
from tests.factories import AlertRuleFactory


def _in_app_rule():
    return AlertRuleFactory(channel="in_app", destination="")


@pytest.mark.django_db
def test_bell_lists_new_alerts_with_links_to_the_transaction(analyst_client):
    _in_app_rule()
    score = scored()
    alerts_evaluate(score_ids=[score.pk])

    response = analyst_client.get(reverse("alerts:bell"))

    assert response.status_code == 200
    assert response.context["unseen"] == 1
    assert f'href="/review/transactions/{score.transaction_id}/"'.encode() in response.content


@pytest.mark.django_db
def test_bell_is_empty_for_users_without_review_permission(client, outsider):
    client.force_login(outsider)
    response = client.get(reverse("alerts:bell"))
    assert response.status_code == 204
    assert response.content == b""


@pytest.mark.django_db
def test_marking_read_clears_the_count(analyst_client, analyst):
    _in_app_rule()
    alerts = alerts_evaluate(score_ids=[scored().pk, scored().pk])

    response = analyst_client.post(reverse("alerts:bell-seen"), HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert AlertReadMark.objects.get(user=analyst, organisation=alerts[0].rule.organisation).last_seen_alert_id == max(
        a.pk for a in alerts
    )
    assert response.context["unseen"] == 0


@pytest.mark.django_db
def test_bell_view_costs_a_fixed_number_of_queries(analyst_client, django_assert_num_queries):
    _in_app_rule()
    alerts_evaluate(score_ids=[scored().pk for _ in range(5)])
    # session, user, the request's organisation, the organisation chooser, permissions (2), recent alerts, read mark,
    # unseen count
    with django_assert_num_queries(9):
        analyst_client.get(reverse("alerts:bell"))


async def _connect(user):
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/alerts/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    return communicator, connected


@pytest.mark.django_db(transaction=True)
def test_analyst_socket_receives_the_rendered_bell_when_alerts_arrive(analyst):
    _in_app_rule()
    score = scored()

    async def scenario():
        communicator, connected = await _connect(analyst)
        assert connected
        await database_sync_to_async(alerts_evaluate)(score_ids=[score.pk])
        html = await communicator.receive_from(timeout=5)
        await communicator.disconnect()
        return html

    html = async_to_sync(scenario)()
    assert 'id="alert-bell"' in html
    assert f"/review/transactions/{score.transaction_id}/" in html


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("who", ["anonymous", "outsider"])
def test_socket_refuses_users_without_review_permission(who, outsider):
    user = AnonymousUser() if who == "anonymous" else outsider

    async def scenario():
        communicator, connected = await _connect(user)
        await communicator.disconnect()
        return connected

    assert async_to_sync(scenario)() is False


@pytest.mark.django_db
def test_bell_count_is_capped_for_users_who_never_read(analyst_client):
    _in_app_rule()
    alerts_evaluate(score_ids=[scored().pk for _ in range(101)])

    response = analyst_client.get(reverse("alerts:bell"))

    assert response.context["unseen"] == 100
    assert b">99+</span>" in response.content


@pytest.mark.django_db
def test_marking_read_without_htmx_never_redirects_off_site(analyst_client):
    response = analyst_client.post(reverse("alerts:bell-seen"), HTTP_REFERER="https://evil.example/")
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
