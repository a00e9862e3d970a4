"""The header bell in a real browser: a new alert shows up live, without reloading the page."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import Client

from alerts.live import bell_broadcast
from alerts.services import alerts_evaluate
from tests.alerts.helpers import scored
from tests.e2e.conftest import asgi_server, browser, new_page, screenshot  # noqa: F401 - fixtures
from tests.factories import AlertRuleFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _logged_in_page(new_page, asgi_server, user):  # noqa: F811
    """daphne runs with the normal password hashers, so the browser gets a session made here instead."""
    client = Client()
    client.force_login(user)
    page = new_page()
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": asgi_server}])
    return page


def _off_the_browser_loop(fn, **kwargs):
    """Playwright's sync API owns an event loop in this thread; channel-layer calls must run in another one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, **kwargs).result()


def test_new_alert_appears_in_the_analysts_bell_live(new_page, asgi_server, analyst):  # noqa: F811
    AlertRuleFactory(channel="in_app", destination="", min_risk_level="high")
    page = _logged_in_page(new_page, asgi_server, analyst)
    page.goto("/alerts/thresholds/")
    page.wait_for_selector("#alert-bell summary")
    assert page.locator(".alert-bell-count").count() == 0

    score = scored(risk_level="critical", score=0.996)
    _off_the_browser_loop(alerts_evaluate, score_ids=[score.pk])
    deadline = time.monotonic() + 10
    while page.locator(".alert-bell-count").count() == 0 and time.monotonic() < deadline:
        page.wait_for_timeout(300)
        # the first broadcast may have gone out before the socket opened
        _off_the_browser_loop(bell_broadcast, organisation_id=score.transaction.source.organisation_id)

    assert page.locator(".alert-bell-count").inner_text() == "1"
    page.click("#alert-bell summary")
    link = page.locator(".alert-bell-list a").first
    assert link.get_attribute("href") == f"/review/transactions/{score.transaction_id}/"
    screenshot(page, "alerts-bell")
