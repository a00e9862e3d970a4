"""Error answers: the site's styled 403/404/500/503 pages, and PostgreSQL down answered 503 with Retry-After (JSON under
/api/, the 503 page elsewhere) whatever DEBUG says. The real-process version is tests/anomaly_site/test_faults.py."""

import json

import pytest
from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import Client

from core.api_errors import handler500, unavailable_response

STYLED = b'<link rel="stylesheet" href="/static/css/app.css">'


@pytest.fixture
def database_down(monkeypatch):
    """Every query fails as it does when PostgreSQL is unreachable."""

    def refuse(self):
        raise OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')

    monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", refuse)


def client_with_a_session() -> Client:
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = "a" * 32  # so that the page must read the session from the database
    return client


def assert_unavailable_page(response) -> None:
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response["Content-Type"].startswith("text/html")
    assert STYLED in response.content
    assert b"Sentinel is briefly unavailable" in response.content
    assert b"Traceback" not in response.content and b"settings" not in response.content.lower()


def assert_unavailable_json(response) -> None:
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    body = json.loads(response.content)
    assert set(body) == {"errors", "status", "request_id"}
    assert body["status"] == 503 and body["request_id"] == response["X-Request-ID"]
    assert body["errors"] == [
        {
            "field": None,
            "reason": "The service is briefly unavailable; try again after the Retry-After seconds.",
            "code": "unavailable",
        }
    ]


def test_a_page_with_postgresql_down_is_the_styled_503(database_down):
    assert_unavailable_page(client_with_a_session().get("/review/"))


def test_a_page_with_postgresql_down_is_the_503_with_debug_on_too(database_down, settings):
    settings.DEBUG = True

    assert_unavailable_page(client_with_a_session().get("/review/"))


@pytest.mark.parametrize("debug", [False, True])
def test_an_api_call_with_postgresql_down_is_a_json_503(database_down, settings, debug):
    settings.DEBUG = debug
    api = Client(raise_request_exception=False, HTTP_AUTHORIZATION="Bearer atk_whatever")

    assert_unavailable_json(api.post("/api/v1/transactions/score", {}, content_type="application/json"))
    assert_unavailable_json(api.get("/api/v1/jobs/7"))


def test_the_500_and_503_pages_render_without_the_database(rf):
    # No database access is allowed in this test: rendering either page must need none.
    request = rf.get("/review/")
    request.request_id = "r-123"

    page = handler500(request)
    unavailable = unavailable_response(request)

    assert page.status_code == 500
    assert STYLED in page.content and b"Something went wrong on our side" in page.content
    assert b"r-123" in page.content
    assert unavailable.status_code == 503 and b"r-123" in unavailable.content


@pytest.mark.django_db
def test_an_unexpected_error_on_a_page_is_the_styled_500_without_a_traceback(analyst, monkeypatch):
    client = Client(raise_request_exception=False)
    client.force_login(analyst)
    monkeypatch.setattr("review.views.selectors.review_queue", lambda **kwargs: 1 / 0)

    response = client.get("/review/")

    assert response.status_code == 500
    assert STYLED in response.content and b"Something went wrong on our side" in response.content
    assert response["X-Request-ID"].encode() in response.content
    assert b"ZeroDivisionError" not in response.content


@pytest.mark.django_db
def test_a_missing_page_is_the_styled_404(client):
    response = client.get("/no/such/page/")

    assert response.status_code == 404
    assert STYLED in response.content and b"There is nothing here" in response.content


@pytest.mark.django_db
def test_a_page_the_role_does_not_allow_is_the_styled_403(client, outsider):
    client.force_login(outsider)

    response = client.get("/review/")

    assert response.status_code == 403
    assert STYLED in response.content and b"You may not do this" in response.content
    assert b'<span class="username">mallory</span>' in response.content  # the usual header, for whoever is logged in


@pytest.mark.django_db
def test_a_form_without_its_csrf_token_is_the_styled_403(analyst):
    client = Client(enforce_csrf_checks=True)
    client.force_login(analyst)

    response = client.post("/review/claim-next/")

    assert response.status_code == 403
    assert STYLED in response.content and b"The form was stale or sent without its cookie." in response.content
