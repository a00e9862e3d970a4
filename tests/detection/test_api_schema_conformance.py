"""The partner API against its own OpenAPI schema (issue #22), by schemathesis: every operation of /api/v1/schema/
called with generated requests, valid and invalid, with a partner token, over the real PostgreSQL and Redis, and
every answer checked: never a server error, always a status, a content type and a body the schema lists.

In-process (WSGI) and inside the test's transaction, so nothing is left behind; bounded to MAX_EXAMPLES per
operation and derandomized, so a run takes the same time and finds the same things.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.services import partner_token_create
from tests.factories import default_organisation

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]
MAX_EXAMPLES = 100


# Loaded at collection, as the API serves it (generating it reads no database).
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())


@pytest.fixture
def live_api(db, active_model):
    """The session's trained model active (scoring answers, not 503s); requests keep the test's database
    connection, as Django's test client does (a WSGI request's end would close it)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token_header(db) -> dict[str, str]:
    _, secret = partner_token_create(
        name="schema-partner", scopes=["score", "label", "read", "lists"], organisation=default_organisation()
    )
    return {"Authorization": f"Bearer {secret}"}


@schema.parametrize()
@hypothesis_settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_one_the_schema_lists(case, live_api, token_header):
    case.call_and_validate(headers=token_header, checks=CHECKS)
