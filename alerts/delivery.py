"""Sending one delivery: claim it, send it over its channel, record the outcome. No retries here: the task
decides, from the returned outcome, whether and when to try again."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db.models import F, Q
from django.utils import timezone

from alerts import payloads
from alerts.channels import SENDERS
from alerts.channels.http import DeliveryError, post
from alerts.models import AlertDelivery, AlertRule, SecretUnavailable
from alerts.signing import DELIVERY_HEADER, signature_headers
from core import metrics

__all__ = ["DeliveryError", "Outcome", "alert_delivery_attempt"]


@dataclass(frozen=True)
class Outcome:
    status: str  # sent, retry, failed, skipped
    attempts: int = 0


def _claim(delivery_id: int) -> bool:
    """Take the delivery if pending, or if a worker died mid-send long ago; exactly one caller wins."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.ALERTS_DELIVERY_TIMEOUT * 2 + 60)
    return (
        AlertDelivery.objects.filter(id=delivery_id)
        .filter(Q(status=AlertDelivery.Status.PENDING) | Q(status=AlertDelivery.Status.SENDING, claimed_at__lt=stale))
        .update(status=AlertDelivery.Status.SENDING, claimed_at=now, last_attempt_at=now, attempts=F("attempts") + 1)
        == 1
    )


def alert_delivery_attempt(*, delivery_id: int) -> Outcome:
    if not _claim(delivery_id):
        return Outcome("skipped")
    delivery = AlertDelivery.objects.select_related("rule").get(pk=delivery_id)
    try:
        code = _send(delivery)
    except DeliveryError as exc:
        outcome = _record_failure(delivery, exc)
        metrics.delivery_recorded(channel=delivery.channel, outcome=outcome.status)
        return outcome
    AlertDelivery.objects.filter(pk=delivery.pk).update(
        status=AlertDelivery.Status.SENT, response_code=code, last_error="", sent_at=timezone.now()
    )
    metrics.delivery_recorded(channel=delivery.channel, outcome="sent")
    return Outcome("sent", delivery.attempts)


def _record_failure(delivery: AlertDelivery, exc: DeliveryError) -> Outcome:
    final = not exc.retryable or delivery.attempts >= settings.ALERTS_MAX_ATTEMPTS
    status = AlertDelivery.Status.FAILED if final else AlertDelivery.Status.PENDING
    AlertDelivery.objects.filter(pk=delivery.pk).update(
        status=status, response_code=exc.code, last_error=str(exc)[:2000]
    )
    return Outcome("failed" if final else "retry", delivery.attempts)


def _send(delivery: AlertDelivery) -> int | None:
    alerts = payloads.delivery_alerts(delivery)
    rule = delivery.rule
    if delivery.channel == AlertRule.Channel.EMAIL:
        return _send_email(delivery, alerts, timeout=rule.timeout)
    if delivery.channel in SENDERS:
        return SENDERS[delivery.channel](delivery, alerts, secret=_secret(rule), timeout=rule.timeout)
    if delivery.channel == AlertRule.Channel.SLACK:
        body = payloads.slack_body(delivery, alerts)
    elif delivery.channel == AlertRule.Channel.WEBHOOK:
        body = payloads.webhook_body(delivery, alerts)
    else:
        raise DeliveryError(f"channel {delivery.channel!r} has nothing to send", retryable=False)
    headers = {"Content-Type": "application/json", DELIVERY_HEADER: str(delivery.pk)}
    headers |= signature_headers(secret=rule.signing_secret, body=body)
    return post(delivery.destination, body, headers, timeout=rule.timeout)


def _secret(rule: AlertRule) -> str:
    """The rule's channel secret; a missing one fails the delivery at once (a retry would not find it either)."""
    try:
        return rule.secret_value()
    except SecretUnavailable as exc:
        raise DeliveryError(f"secret unavailable: {exc}", retryable=False) from exc


def _send_email(delivery: AlertDelivery, alerts, *, timeout: float) -> None:
    message = EmailMessage(
        subject=payloads.summary_subject(delivery, alerts),
        body=payloads.summary_text(delivery, alerts),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=_split(delivery),
        connection=get_connection(timeout=timeout),
    )
    try:
        message.send(fail_silently=False)
    except (OSError, ValueError) as exc:  # smtplib errors are OSErrors
        raise DeliveryError(f"{type(exc).__name__}: {exc}")
    return None


def _split(delivery: AlertDelivery) -> list[str]:
    return [part.strip() for part in delivery.destination.split(",") if part.strip()]
