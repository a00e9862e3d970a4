"""Delivery task bodies against a real HTTP receiver on 127.0.0.1 and the locmem e-mail backend."""

import json
from pathlib import Path

import pytest
from celery.exceptions import Retry
from django.core import mail

from alerts.delivery import alert_delivery_attempt
from alerts.models import AlertDelivery, AlertRule
from alerts.services import alert_delivery_resend, alerts_evaluate
from alerts.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_verify
from alerts.tasks import alert_delivery_send, retry_delay
from tests.alerts.helpers import scored
from tests.factories import AlertRuleFactory

pytestmark = pytest.mark.django_db


def _one_delivery(rule) -> AlertDelivery:
    alerts_evaluate(score_ids=[scored().pk])
    return AlertDelivery.objects.get(rule=rule)


def test_webhook_delivery_is_sent_with_the_alert_and_recorded(receiver):
    rule = AlertRuleFactory(destination=receiver.url)
    delivery = _one_delivery(rule)

    outcome = alert_delivery_attempt(delivery_id=delivery.pk)

    assert outcome.status == "sent"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("sent", 1, 200)
    assert delivery.sent_at is not None
    body = json.loads(receiver.requests[0].body)
    assert body["count"] == 1 and body["rule"]["name"] == rule.name
    assert body["alerts"][0]["url"].endswith(f"/review/transactions/{body['alerts'][0]['transaction']}/")


def test_webhook_signature_verifies_and_a_tampered_body_fails(receiver):
    rule = AlertRuleFactory(destination=receiver.url)
    alert_delivery_attempt(delivery_id=_one_delivery(rule).pk)
    request = receiver.requests[0]
    timestamp, signature = request.headers[TIMESTAMP_HEADER], request.headers[SIGNATURE_HEADER]

    assert signature_verify(secret=rule.signing_secret, timestamp=timestamp, signature=signature, body=request.body)
    tampered = request.body.replace(b'"count":1', b'"count":2')
    assert not signature_verify(secret=rule.signing_secret, timestamp=timestamp, signature=signature, body=tampered)
    assert not signature_verify(secret="whsec_wrong", timestamp=timestamp, signature=signature, body=request.body)


def test_a_replayed_old_signature_is_rejected(receiver):
    rule = AlertRuleFactory(destination=receiver.url)
    alert_delivery_attempt(delivery_id=_one_delivery(rule).pk)
    request = receiver.requests[0]

    verified = signature_verify(
        secret=rule.signing_secret,
        timestamp=request.headers[TIMESTAMP_HEADER],
        signature=request.headers[SIGNATURE_HEADER],
        body=request.body,
        tolerance=-1,  # as if the request arrived after the tolerance window
    )
    assert not verified


def test_receiver_answering_500_twice_then_200_gets_one_successful_delivery(receiver_factory):
    receiver = receiver_factory(script=[500, 500])
    rule = AlertRuleFactory(destination=receiver.url)
    delivery = _one_delivery(rule)

    outcomes = [alert_delivery_attempt(delivery_id=delivery.pk).status for _ in range(4)]

    assert outcomes == ["retry", "retry", "sent", "skipped"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code, delivery.last_error) == ("sent", 3, 200, "")
    assert len(receiver.requests) == 3


def test_task_asks_celery_to_retry_with_backoff_on_a_server_error(receiver_factory, settings):
    settings.ALERTS_RETRY_BACKOFF = 10
    receiver = receiver_factory(script=[503])
    delivery = _one_delivery(AlertRuleFactory(destination=receiver.url))

    with pytest.raises(Retry) as raised:
        alert_delivery_send.apply(args=[delivery.pk], throw=True)

    assert raised.value.when == 10
    assert AlertDelivery.objects.get(pk=delivery.pk).status == "pending"
    assert [retry_delay(n) for n in (1, 2, 3)] == [10, 20, 40]


def test_client_error_fails_at_once_without_retry(receiver_factory):
    receiver = receiver_factory(default_code=404)
    delivery = _one_delivery(AlertRuleFactory(destination=receiver.url))

    outcome = alert_delivery_attempt(delivery_id=delivery.pk)

    assert outcome.status == "failed"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.response_code) == ("failed", 404)
    assert "404" in delivery.last_error


def test_delivery_gives_up_after_the_maximum_attempts(receiver_factory, settings):
    settings.ALERTS_MAX_ATTEMPTS = 2
    receiver = receiver_factory(default_code=500)
    delivery = _one_delivery(AlertRuleFactory(destination=receiver.url))

    outcomes = [alert_delivery_attempt(delivery_id=delivery.pk).status for _ in range(3)]

    assert outcomes == ["retry", "failed", "skipped"]
    assert AlertDelivery.objects.get(pk=delivery.pk).status == "failed"


def test_silent_receiver_times_out_and_fails_only_its_own_delivery(receiver_factory):
    silent, healthy = receiver_factory(hang_seconds=3), receiver_factory()
    slow_rule = AlertRuleFactory(name="slow", destination=silent.url, timeout_seconds=0.3)
    good_rule = AlertRuleFactory(name="good", destination=healthy.url)
    alerts_evaluate(score_ids=[scored().pk])
    slow_delivery, good_delivery = (AlertDelivery.objects.get(rule=r) for r in (slow_rule, good_rule))

    assert alert_delivery_attempt(delivery_id=slow_delivery.pk).status == "retry"
    assert alert_delivery_attempt(delivery_id=good_delivery.pk).status == "sent"

    slow_delivery.refresh_from_db()
    assert slow_delivery.status == "pending" and "timed out" in slow_delivery.last_error.lower()


def test_slack_delivery_posts_a_text_body(receiver):
    rule = AlertRuleFactory(channel=AlertRule.Channel.SLACK, destination=receiver.url)
    alert_delivery_attempt(delivery_id=_one_delivery(rule).pk)

    body = json.loads(receiver.requests[0].body)
    assert list(body) == ["text"]
    assert rule.name in body["text"] and "/review/transactions/" in body["text"]


def test_email_delivery_goes_through_the_mail_backend():
    rule = AlertRuleFactory(channel=AlertRule.Channel.EMAIL, destination="ops@example.com, fraud@example.com")
    delivery = _one_delivery(rule)

    assert alert_delivery_attempt(delivery_id=delivery.pk).status == "sent"

    assert AlertDelivery.objects.get(pk=delivery.pk).status == "sent"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@example.com", "fraud@example.com"]
    assert rule.name in mail.outbox[0].subject


def test_grouped_delivery_sends_one_summary_of_all_its_alerts(receiver):
    rule = AlertRuleFactory(destination=receiver.url, quiet_period_minutes=10)
    alerts_evaluate(score_ids=[scored(minutes=m).pk for m in range(4)])
    summary = AlertDelivery.objects.filter(rule=rule).order_by("-scheduled_for").first()

    alert_delivery_attempt(delivery_id=summary.pk)

    body = json.loads(receiver.requests[0].body)
    assert body["count"] == 3 and len(body["alerts"]) == 3


def test_resend_creates_a_new_delivery_of_the_same_alerts(receiver, admin_user):
    rule = AlertRuleFactory(destination=receiver.url)
    original = _one_delivery(rule)
    alert_delivery_attempt(delivery_id=original.pk)

    resend = alert_delivery_resend(delivery=original, user=admin_user)
    alert_delivery_attempt(delivery_id=resend.pk)

    resend.refresh_from_db()
    assert (resend.status, resend.resend_of_id) == ("sent", original.pk)
    assert list(resend.alerts.all()) == list(original.alerts.all())
    assert len(receiver.requests) == 2


def test_the_documented_receiver_verifier_accepts_a_real_delivery_and_rejects_tampering(receiver):
    guide = (Path(__file__).resolve().parents[2] / "docs" / "user-guide.md").read_text()
    signature_section = guide.split("### Webhook body and signature", 1)[1]
    snippet = signature_section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(snippet, namespace)  # noqa: S102 - our own documentation's example
    rule = AlertRuleFactory(destination=receiver.url)
    alert_delivery_attempt(delivery_id=_one_delivery(rule).pk)
    request = receiver.requests[0]

    assert namespace["verify"](rule.signing_secret, request.headers, request.body)
    assert not namespace["verify"](rule.signing_secret, request.headers, request.body + b" ")


def test_each_attempt_is_counted_by_channel_and_outcome_for_the_dashboards(receiver_factory, settings):
    from prometheus_client import REGISTRY

    def count(outcome: str) -> float:
        labels = {"channel": "webhook", "outcome": outcome}
        return REGISTRY.get_sample_value("anomaly_alert_deliveries_total", labels) or 0.0

    settings.ALERTS_MAX_ATTEMPTS = 2
    failing_rule = AlertRuleFactory(destination=receiver_factory(default_code=500).url)
    working_rule = AlertRuleFactory(destination=receiver_factory().url)
    alerts_evaluate(score_ids=[scored().pk])
    before = {outcome: count(outcome) for outcome in ("sent", "retry", "failed")}

    for _ in range(2):
        alert_delivery_attempt(delivery_id=AlertDelivery.objects.get(rule=failing_rule).pk)
    alert_delivery_attempt(delivery_id=AlertDelivery.objects.get(rule=working_rule).pk)

    assert {outcome: count(outcome) - before[outcome] for outcome in before} == {"sent": 1, "retry": 1, "failed": 1}
