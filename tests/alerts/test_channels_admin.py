"""Configuring the on-call and SMS channels in the admin: the secret is written, kept encrypted, never shown back in
full, and its changes are audited without their value."""

import pytest
from django.urls import reverse

from alerts.models import AlertRule, AuditEvent
from tests.factories import default_organisation

pytestmark = pytest.mark.django_db

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
FORM = {
    "name": "pager on-call",
    "description": "",
    "enabled": "on",
    "min_risk_level": "critical",
    "min_score": "",
    "amount_min": "",
    "amount_max": "",
    "merchant_categories": "",
    "account_ids": "",
    "merchant_ids": "",
    "rate_count": "",
    "rate_window_minutes": "",
    "rate_scope": "merchant",
    "channel": "pagerduty",
    "destination": "",
    "secret": ROUTING_KEY,
    "secret_env": "",
    "twilio_account_sid": "",
    "sms_from": "",
    "timeout_seconds": "",
    "quiet_period_minutes": "0",
}


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def _add(admin_client, **changes):
    data = {**FORM, "organisation": default_organisation().pk, **changes}
    return admin_client.post(reverse("admin:alerts_alertrule_add"), data)


def _change_url(rule) -> str:
    return reverse("admin:alerts_alertrule_change", args=[rule.pk])


def test_admin_adds_a_pagerduty_rule_with_its_routing_key_kept_encrypted(admin_client):
    response = _add(admin_client)

    assert response.status_code == 302
    rule = AlertRule.objects.get(name="pager on-call")
    assert rule.channel == "pagerduty" and ROUTING_KEY not in rule.secret_encrypted
    assert rule.secret_value() == ROUTING_KEY


def test_the_change_page_shows_the_secret_masked_and_never_in_full(admin_client):
    _add(admin_client)
    rule = AlertRule.objects.get(name="pager on-call")

    page = admin_client.get(_change_url(rule)).content.decode()

    assert ROUTING_KEY not in page
    assert "••••••••" + ROUTING_KEY[-4:] in page


def test_saving_without_a_new_secret_keeps_the_stored_one(admin_client):
    _add(admin_client)
    rule = AlertRule.objects.get(name="pager on-call")

    response = admin_client.post(
        _change_url(rule), {**FORM, "secret": "", "description": "changed", "organisation": rule.organisation_id}
    )

    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.description, rule.secret_value()) == ("changed", ROUTING_KEY)


def test_a_malformed_secret_is_refused_on_the_form_naming_the_field(admin_client):
    response = _add(admin_client, secret="not a key")

    assert response.status_code == 200
    assert "secret" in response.context["adminform"].form.errors
    assert not AlertRule.objects.filter(name="pager on-call").exists()


def test_moving_a_rule_to_another_channel_without_its_secret_asks_for_one(admin_client):
    _add(admin_client)
    rule = AlertRule.objects.get(name="pager on-call")

    response = admin_client.post(
        _change_url(rule), {**FORM, "channel": "opsgenie", "secret": "", "organisation": rule.organisation_id}
    )

    assert response.status_code == 200
    assert "secret" in response.context["adminform"].form.errors


def test_the_audit_row_says_the_secret_changed_but_not_what_it_is(admin_client):
    _add(admin_client)

    [event] = AuditEvent.objects.filter(action="rule.create")
    assert event.after["secret_changed"] is True
    assert ROUTING_KEY not in str(event.after) and "secret_encrypted" not in event.after


def test_an_sms_rule_needs_its_account_sid_and_sender_named_on_the_form(admin_client):
    response = _add(admin_client, channel="sms", destination="+447700900123", secret="9f" * 16)

    assert response.status_code == 200
    assert "twilio_account_sid" in response.context["adminform"].form.errors
