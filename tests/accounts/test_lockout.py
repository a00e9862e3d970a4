"""Login throttling: repeated failures lock a username and an address out, the right password included; audited;
an admin unlocks."""

import pytest
import time_machine
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent
from tests.factories import UserFactory

PASSWORD = "pass-word-123"  # UserFactory's
LOGIN = reverse("login")


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.AXES_FAILURE_LIMIT = settings.LOGIN_FAILURE_LIMIT = 5


def log_in(client: Client, username: str, password: str, address: str = "203.0.113.7"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def fail(client: Client, username: str, times: int, address: str = "203.0.113.7") -> None:
    """`times` wrong passwords: the one that reaches the limit is answered with the lockout already."""
    for _ in range(times):
        assert log_in(client, username, "wrong-password", address).status_code in (200, 429)


@pytest.mark.django_db
def test_after_the_limit_of_wrong_passwords_the_right_one_is_refused(client, analyst):
    fail(client, "alice", 4)
    assert log_in(client, "alice", "wrong-password").status_code == 429  # the fifth failure locks

    response = log_in(client, "alice", PASSWORD)

    assert response.status_code == 429
    assert response["Retry-After"] == str(15 * 60)
    assert "_auth_user_id" not in client.session
    assert b"Too many failed logins" in response.content
    assert b"<h1>Log in</h1>" in response.content  # the login page, saying why, not a bare 403 or a 500


@pytest.mark.django_db
def test_the_lock_holds_from_another_address_for_that_username(client, analyst):
    fail(client, "alice", 5, address="203.0.113.7")

    assert log_in(Client(), "alice", PASSWORD, address="198.51.100.20").status_code == 429


@pytest.mark.django_db
def test_failures_for_many_usernames_from_one_address_lock_that_address(client, analyst):
    for name in ("a1", "a2", "a3", "a4", "a5"):
        log_in(client, name, "guess", address="192.0.2.50")

    assert log_in(Client(), "alice", PASSWORD, address="192.0.2.50").status_code == 429
    response = log_in(Client(), "alice", PASSWORD, address="198.51.100.20")
    assert response.status_code == 302  # the same user from elsewhere is not locked


@pytest.mark.django_db
def test_below_the_limit_the_right_password_logs_in(client, analyst):
    fail(client, "alice", 4)

    response = log_in(client, "alice", PASSWORD)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(analyst.pk)


@pytest.mark.django_db
def test_the_lockout_ends_after_the_cool_off(client, analyst, settings):
    fail(client, "alice", 5)

    with time_machine.travel(timezone.now() + settings.AXES_COOLOFF_TIME + timezone.timedelta(seconds=1)):
        assert log_in(client, "alice", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_a_lockout_is_audited_once_with_the_username_and_address(client, analyst):
    fail(client, "alice", 5)
    log_in(client, "alice", PASSWORD)
    log_in(client, "alice", "wrong-password")

    events = AuditEvent.objects.filter(action="login.locked_out")
    assert events.count() == 1
    event = events.get()
    assert (event.object_type, event.object_id, event.ip_address) == ("auth.user", str(analyst.pk), "203.0.113.7")
    assert event.after == {"username": "alice", "ip_address": "203.0.113.7", "failures": 5}


@pytest.mark.django_db
def test_the_admin_unlock_action_lets_the_user_in_and_is_audited(client, analyst, admin_user):
    fail(client, "alice", 5)
    admin = Client()
    admin.force_login(admin_user)
    attempts = list(AccessAttempt.objects.filter(username="alice").values_list("pk", flat=True))

    response = admin.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "unlock", "_selected_action": attempts},
        REMOTE_ADDR="10.0.0.9",
    )

    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username="alice").exists()
    event = AuditEvent.objects.get(action="login.unlock")
    assert (event.actor, event.object_id, event.ip_address) == (admin_user, "alice", "10.0.0.9")
    assert event.after == {"username": "alice", "ip_address": "203.0.113.7", "attempts_removed": 1}
    assert log_in(client, "alice", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_an_analyst_cannot_unlock(client, analyst):
    fail(Client(), "bob", 5)
    UserFactory(username="bob")
    client.force_login(analyst)

    response = client.get(reverse("admin:axes_accessattempt_changelist"))

    assert response.status_code == 302  # to the admin's login: not staff
    assert AccessAttempt.objects.filter(username="bob").exists()


@pytest.mark.django_db
def test_the_password_validators_stay(settings):
    names = [v["NAME"].rsplit(".", 1)[1] for v in settings.AUTH_PASSWORD_VALIDATORS]
    assert names == [
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    ]
