"""Personas shared by every test: two analysts, an admin, a viewer, a partner client and an outsider, all of the
test organisation; and an analyst and a partner client of another organisation, who must see nothing of it."""

import contextlib
import os
import signal
import subprocess

import pytest
from rest_framework.test import APIClient

from accounts.services import ADMIN, ANALYST, LEAD, VIEWER, partner_token_create
from tests.factories import OrganisationFactory, UserFactory, default_organisation


@pytest.fixture
def analyst(db):
    return UserFactory(username="alice", roles=[ANALYST])


@pytest.fixture
def second_analyst(db):
    return UserFactory(username="bob", roles=[ANALYST])


@pytest.fixture
def lead(db):
    """A lead: works as an analyst, and assigns items and cases to analysts."""
    return UserFactory(username="lena", roles=[LEAD])


@pytest.fixture
def admin_user(db):
    return UserFactory(username="root", roles=[ADMIN], is_staff=True, is_superuser=True)


@pytest.fixture
def viewer(db):
    return UserFactory(username="victor", roles=[VIEWER])


@pytest.fixture
def outsider(db):
    """Logged in, but in no group: must be refused everywhere that needs a role."""
    return UserFactory(username="mallory")


@pytest.fixture
def analyst_client(client, analyst):
    client.force_login(analyst)
    return client


@pytest.fixture
def organisation(db):
    """The test organisation, which every factory's rows and every persona belong to."""
    return default_organisation()


@pytest.fixture
def other_organisation(db):
    return OrganisationFactory(name="other-org")


@pytest.fixture
def other_analyst(other_organisation):
    """An analyst of another organisation: sees nothing of the test organisation."""
    return UserFactory(username="olga", roles=[ANALYST], organisations=[other_organisation])


@pytest.fixture
def other_admin(other_organisation):
    """An admin (staff, not a superuser) of another organisation only: may see every job, run, version and rule
    there, and nothing of the test organisation."""
    return UserFactory(username="oscar", roles=[ADMIN], is_staff=True, organisations=[other_organisation])


@pytest.fixture
def other_admin_client(client, other_admin):
    client.force_login(other_admin)
    return client


def stop_process(process: subprocess.Popen, *, timeout: float) -> None:
    """Stop a server or worker the tests started: SIGTERM, then SIGKILL if it has not exited within `timeout`
    seconds; reaped either way. A process started in a session of its own (`start_new_session=True`, as the web
    servers are: gunicorn's workers) is signalled with its whole group, so no worker outlives its manager."""
    group = process.pid if _leads_its_group(process.pid) else None
    _signal(process, group, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _signal(process, group, signal.SIGKILL)
        process.wait()
    if group is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)  # a worker still finishing its graceful stop


def _leads_its_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False


def _signal(process: subprocess.Popen, group: int | None, number: int) -> None:
    if group is None:
        process.send_signal(number)
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, number)


def work_in(client, organisation) -> None:
    """Choose the organisation the client's session works in, as the page header's chooser does."""
    from accounts.selectors import SESSION_KEY

    session = client.session
    session[SESSION_KEY] = organisation.pk
    session.save()


@pytest.fixture
def partner_token(db):
    return partner_token_create(
        name="acme-bank", scopes=["score", "label", "read"], organisation=default_organisation()
    )


@pytest.fixture
def other_partner_client(other_organisation):
    """A partner of another organisation, with every scope."""
    token, secret = partner_token_create(
        name="other-bank", scopes=["score", "label", "read"], organisation=other_organisation
    )
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    api.token = token
    return api


@pytest.fixture
def partner_client(partner_token):
    _, secret = partner_token
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    api.token = partner_token[0]
    return api


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture(autouse=True)
def _fresh_risk_policy_cache():
    """The policy, the alert rules and the rules in force are cached per process; a test's rolled-back rows must not
    leak into the next."""
    from alerts.selectors import alert_rules_invalidate
    from detection.policy.selectors import risk_policy_invalidate
    from rules.deciding.ruleset import rule_sets_forget

    risk_policy_invalidate()
    alert_rules_invalidate()
    rule_sets_forget()
    yield
    risk_policy_invalidate()
    alert_rules_invalidate()
    rule_sets_forget()
