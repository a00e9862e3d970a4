"""The PagerDuty, Opsgenie, Teams and Twilio SMS channels, each against a local fake of the service that checks the
documented request shape: what is sent, deduplication, retries on server errors with the same backoff as the other
channels, secrets (stored encrypted or read from the environment) and the delivery log."""

import pytest
from celery.exceptions import Retry
from django.core.exceptions import ValidationError

from alerts.delivery import alert_delivery_attempt
from alerts.models import AlertDelivery, AlertRule
from alerts.services import alert_delivery_resend, alert_rule_save, alerts_evaluate
from alerts.tasks import alert_delivery_send
from tests.alerts.fake_services import FakeOpsgenie, FakePagerDuty, FakeTeamsWorkflow, FakeTwilio, serve
from tests.alerts.helpers import scored
from tests.factories import AlertRuleFactory

pytestmark = pytest.mark.django_db

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
GENIE_KEY = "eb243592-faa2-4ba2-a551-1afdf565c889"
ACCOUNT_SID = "AC" + "1234abcd" * 4
AUTH_TOKEN = "9f" * 16


@pytest.fixture
def fake(settings):
    servers = []

    def start(service, setting: str | None = None):
        servers.append(serve(service))
        if setting:
            setattr(settings, setting, service.base_url)
        return service

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def pagerduty(fake):
    return fake(FakePagerDuty(routing_keys={ROUTING_KEY}), "ALERTS_PAGERDUTY_BASE_URL")


@pytest.fixture
def opsgenie(fake):
    return fake(FakeOpsgenie(api_key=GENIE_KEY), "ALERTS_OPSGENIE_BASE_URL")


@pytest.fixture
def teams(fake):
    return fake(FakeTeamsWorkflow())


@pytest.fixture
def twilio(fake):
    return fake(FakeTwilio(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN), "ALERTS_TWILIO_BASE_URL")


def _rule(channel: str, secret: str | None = None, **fields) -> AlertRule:
    rule = AlertRuleFactory.build(channel=channel, destination=fields.pop("destination", ""), **fields)
    return alert_rule_save(rule=rule, secret=secret)


def _sms_rule(**fields) -> AlertRule:
    defaults = {"destination": "+447700900123", "twilio_account_sid": ACCOUNT_SID, "sms_from": "+15005550006"}
    return _rule(AlertRule.Channel.SMS, AUTH_TOKEN, **(defaults | fields))


def _deliveries(rule, *scores) -> list[AlertDelivery]:
    alerts_evaluate(score_ids=[s.pk for s in scores or [scored()]])
    return list(AlertDelivery.objects.filter(rule=rule).order_by("id"))


def _send(delivery) -> str:
    return alert_delivery_attempt(delivery_id=delivery.pk).status


# PagerDuty


def test_pagerduty_triggers_an_event_with_the_routing_key_and_a_severity_from_the_risk_level(pagerduty):
    rule = _rule(AlertRule.Channel.PAGERDUTY, ROUTING_KEY)
    [delivery] = _deliveries(rule, scored(risk_level="critical", score=0.99))

    assert _send(delivery) == "sent"

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("sent", 1, 202)
    event = pagerduty.accepted[0].json()
    assert (event["routing_key"], event["event_action"]) == (ROUTING_KEY, "trigger")
    assert event["payload"]["severity"] == "critical"
    assert rule.name in event["payload"]["summary"]
    assert event["payload"]["custom_details"]["alerts"][0]["risk_level"] == "critical"


def test_pagerduty_severity_follows_each_risk_level(pagerduty):
    rule = _rule(AlertRule.Channel.PAGERDUTY, ROUTING_KEY, min_risk_level="low")
    for delivery in _deliveries(rule, scored(risk_level="low"), scored(risk_level="medium"), scored()):
        _send(delivery)

    assert [seen.json()["payload"]["severity"] for seen in pagerduty.accepted] == ["info", "warning", "error"]


def test_pagerduty_a_resent_alert_keeps_its_dedup_key_and_opens_one_incident(pagerduty):
    rule = _rule(AlertRule.Channel.PAGERDUTY, ROUTING_KEY)
    [delivery] = _deliveries(rule)
    _send(delivery)

    _send(alert_delivery_resend(delivery=delivery))

    assert len(pagerduty.accepted) == 2
    assert len(pagerduty.incidents) == 1


def test_pagerduty_two_alerts_have_two_dedup_keys(pagerduty):
    rule = _rule(AlertRule.Channel.PAGERDUTY, ROUTING_KEY)
    for delivery in _deliveries(rule, scored(), scored(minutes=1)):
        _send(delivery)

    assert len(pagerduty.incidents) == 2


def test_pagerduty_server_error_is_retried_with_the_same_backoff_then_sent(pagerduty, settings):
    settings.ALERTS_RETRY_BACKOFF = 10
    pagerduty.script = [503]
    [delivery] = _deliveries(_rule(AlertRule.Channel.PAGERDUTY, ROUTING_KEY))

    with pytest.raises(Retry) as raised:
        alert_delivery_send.apply(args=[delivery.pk], throw=True)
    assert raised.value.when == 10
    assert _send(delivery) == "sent"

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code, delivery.last_error) == ("sent", 2, 202, "")
    assert len(pagerduty.incidents) == 1


def test_pagerduty_refusing_the_event_fails_at_once_with_its_reason_in_the_log(pagerduty):
    pagerduty.routing_keys = {"another" * 4 + "x" * 4}
    [delivery] = _deliveries(_rule(AlertRule.Channel.PAGERDUTY, ROUTING_KEY))

    assert _send(delivery) == "failed"

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("failed", 1, 400)
    assert "routing_key" in delivery.last_error


# Opsgenie


def test_opsgenie_creates_an_alert_with_the_genie_key_priority_and_alias(opsgenie):
    rule = _rule(AlertRule.Channel.OPSGENIE, GENIE_KEY)
    [delivery] = _deliveries(rule, scored(risk_level="critical"))

    assert _send(delivery) == "sent"

    assert AlertDelivery.objects.get(pk=delivery.pk).response_code == 202
    request = opsgenie.accepted[0]
    assert request.headers["Authorization"] == f"GenieKey {GENIE_KEY}"
    alert = request.json()
    assert alert["priority"] == "P1" and rule.name in alert["message"]
    assert alert["alias"].endswith(f":alert:{delivery.alerts.get().pk}")
    assert alert["details"]["url"].startswith("http")


def test_opsgenie_a_repeated_alert_has_the_same_alias_and_is_counted_not_opened_again(opsgenie):
    [delivery] = _deliveries(_rule(AlertRule.Channel.OPSGENIE, GENIE_KEY))
    _send(delivery)

    _send(alert_delivery_resend(delivery=delivery))

    assert [entry["count"] for entry in opsgenie.open_alerts.values()] == [2]


def test_opsgenie_with_a_wrong_key_fails_at_once(opsgenie):
    opsgenie.api_key = "another-key"
    [delivery] = _deliveries(_rule(AlertRule.Channel.OPSGENIE, GENIE_KEY))

    assert _send(delivery) == "failed"

    delivery.refresh_from_db()
    assert delivery.response_code == 422 and "Key format" in delivery.last_error


def test_opsgenie_server_error_is_retried_then_sent(opsgenie):
    opsgenie.script = [500, 502]
    [delivery] = _deliveries(_rule(AlertRule.Channel.OPSGENIE, GENIE_KEY))

    assert [_send(delivery) for _ in range(3)] == ["retry", "retry", "sent"]

    assert AlertDelivery.objects.get(pk=delivery.pk).attempts == 3
    assert len(opsgenie.open_alerts) == 1


# Microsoft Teams


def test_teams_posts_an_adaptive_card_in_the_message_envelope_to_the_signed_workflow_url(teams):
    rule = _rule(AlertRule.Channel.TEAMS, teams.workflow_url)
    [delivery] = _deliveries(rule)

    assert _send(delivery) == "sent"

    assert AlertDelivery.objects.get(pk=delivery.pk).response_code == 202
    message = teams.accepted[0].json()
    [attachment] = message["attachments"]
    card = attachment["content"]
    assert (message["type"], attachment["contentType"]) == ("message", "application/vnd.microsoft.card.adaptive")
    assert rule.name in card["body"][0]["text"]
    assert card["actions"][0]["type"] == "Action.OpenUrl"


def test_teams_server_error_is_retried_then_sent(teams):
    teams.script = [503]
    [delivery] = _deliveries(_rule(AlertRule.Channel.TEAMS, teams.workflow_url))

    assert [_send(delivery) for _ in range(2)] == ["retry", "sent"]
    assert len(teams.accepted) == 1


def test_teams_delivery_log_shows_the_channel_and_a_masked_url_not_the_signature(teams):
    [delivery] = _deliveries(_rule(AlertRule.Channel.TEAMS, teams.workflow_url))

    assert teams.signature not in delivery.destination
    assert delivery.destination == f"Teams {teams.base_url}/••••••••"


# SMS through Twilio


def test_sms_sends_one_form_encoded_message_per_number_with_basic_auth(twilio):
    rule = _sms_rule(destination="+447700900123, +15005550001")
    [delivery] = _deliveries(rule)

    assert _send(delivery) == "sent"

    delivery.refresh_from_db()
    assert (delivery.response_code, delivery.sent_to) == (201, ["+447700900123", "+15005550001"])
    texts = twilio.texts()
    assert [t["To"] for t in texts] == ["+447700900123", "+15005550001"]
    assert all(t["From"] == "+15005550006" and rule.name in t["Body"] for t in texts)


def test_sms_retry_after_a_server_error_texts_only_the_numbers_not_reached(twilio):
    twilio.script = [0, 500]
    [delivery] = _deliveries(_sms_rule(destination="+447700900123, +15005550001"))

    assert [_send(delivery) for _ in range(2)] == ["retry", "sent"]

    assert [t["To"] for t in twilio.texts()] == ["+447700900123", "+15005550001"]
    assert AlertDelivery.objects.get(pk=delivery.pk).attempts == 2


def test_sms_from_a_messaging_service_sends_its_sid_instead_of_a_number(twilio):
    service_sid = "MG" + "ab" * 16
    [delivery] = _deliveries(_sms_rule(sms_from=service_sid))

    _send(delivery)

    [text] = twilio.texts()
    assert text["MessagingServiceSid"] == service_sid and "From" not in text


def test_sms_with_a_wrong_auth_token_fails_at_once(twilio):
    twilio.auth_token = "0" * 32
    [delivery] = _deliveries(_sms_rule())

    assert _send(delivery) == "failed"
    assert "Authentication Error" in AlertDelivery.objects.get(pk=delivery.pk).last_error


# Secrets


def test_the_secret_is_stored_encrypted_not_in_clear():
    rule = _rule(AlertRule.Channel.PAGERDUTY, ROUTING_KEY)

    stored = AlertRule.objects.filter(pk=rule.pk).values_list("secret_encrypted", flat=True).get()
    assert ROUTING_KEY not in stored
    assert AlertRule.objects.get(pk=rule.pk).secret_value() == ROUTING_KEY
    assert rule.secret_masked == "••••••••" + ROUTING_KEY[-4:]


def test_a_secret_read_from_the_environment_is_sent(pagerduty, monkeypatch):
    monkeypatch.setenv("ALERTS_SECRET_PAGERDUTY_ONCALL", ROUTING_KEY)
    rule = _rule(AlertRule.Channel.PAGERDUTY, secret_env="ALERTS_SECRET_PAGERDUTY_ONCALL")
    [delivery] = _deliveries(rule)

    assert _send(delivery) == "sent"
    assert pagerduty.accepted[0].json()["routing_key"] == ROUTING_KEY
    assert delivery.destination == "PagerDuty from $ALERTS_SECRET_PAGERDUTY_ONCALL"


def test_an_unset_environment_secret_fails_the_delivery_at_once_saying_which(pagerduty, monkeypatch):
    monkeypatch.delenv("ALERTS_SECRET_PAGERDUTY_GONE", raising=False)
    rule = _rule(AlertRule.Channel.PAGERDUTY, secret_env="ALERTS_SECRET_PAGERDUTY_GONE")
    [delivery] = _deliveries(rule)

    assert _send(delivery) == "failed"
    assert "ALERTS_SECRET_PAGERDUTY_GONE is not set" in AlertDelivery.objects.get(pk=delivery.pk).last_error
    assert pagerduty.requests == []


def test_a_secret_stored_under_another_key_fails_the_delivery_with_a_clear_error(pagerduty, settings):
    [delivery] = _deliveries(_rule(AlertRule.Channel.PAGERDUTY, ROUTING_KEY))
    settings.ALERTS_ENCRYPTION_KEY = "a new key that does not know the old one"

    assert _send(delivery) == "failed"
    assert "cannot be decrypted" in AlertDelivery.objects.get(pk=delivery.pk).last_error


def test_a_rotated_key_keeps_the_secrets_stored_under_the_old_one_readable(settings):
    settings.ALERTS_ENCRYPTION_KEY = "old key"
    rule = _rule(AlertRule.Channel.PAGERDUTY, ROUTING_KEY)

    settings.ALERTS_ENCRYPTION_KEY = "new key, old key"

    assert AlertRule.objects.get(pk=rule.pk).secret_value() == ROUTING_KEY


def test_a_secret_variable_must_begin_with_the_prefix():
    with pytest.raises(ValidationError) as raised:
        _rule(AlertRule.Channel.OPSGENIE, secret_env="SECRET_KEY")

    assert "secret_env" in raised.value.message_dict


def test_a_pagerduty_rule_without_a_secret_is_refused_naming_the_secret():
    with pytest.raises(ValidationError) as raised:
        _rule(AlertRule.Channel.PAGERDUTY)

    assert "secret" in raised.value.message_dict


def test_a_malformed_routing_key_is_refused_naming_the_secret():
    with pytest.raises(ValidationError) as raised:
        _rule(AlertRule.Channel.PAGERDUTY, "too-short")

    assert "32 letters" in raised.value.message_dict["secret"][0]


def test_an_sms_rule_with_a_number_not_in_international_form_is_refused_naming_it():
    with pytest.raises(ValidationError) as raised:
        _sms_rule(destination="+447700900123, 07700 900124")

    assert "07700 900124" in raised.value.message_dict["destination"][0]


def test_a_rule_moved_to_another_channel_without_a_new_secret_is_refused():
    rule = _rule(AlertRule.Channel.PAGERDUTY, ROUTING_KEY)
    rule.channel = AlertRule.Channel.OPSGENIE

    with pytest.raises(ValidationError) as raised:
        alert_rule_save(rule=rule)

    assert "secret" in raised.value.message_dict
