"""Sending one delivery: claim it, send it over its channel, record the outcome. No retries here: the task
decides, from the returned outcome, whether and when to try again."""

import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db.models import F, Q
from django.utils import timezone

from alerts import payloads
from alerts.models import AlertDelivery, AlertRule
from alerts.signing import DELIVERY_HEADER, signature_headers
from core import metrics

RETRYABLE_HTTP_CODES = {408, 425, 429}
USER_AGENT = "Sentinel-Alerts/1"


class DeliveryError(Exception):
    def __init__(self, message: str, *, code: int | None = None, retryable: bool = True):
        super().__init__(message)
        self.code = code
        self.retryable = retryable


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
    if delivery.channel == AlertRule.Channel.SLACK:
        body = payloads.slack_body(delivery, alerts)
    elif delivery.channel == AlertRule.Channel.WEBHOOK:
        body = payloads.webhook_body(delivery, alerts)
    else:
        raise DeliveryError(f"channel {delivery.channel!r} has nothing to send", retryable=False)
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, DELIVERY_HEADER: str(delivery.pk)}
    headers |= signature_headers(secret=rule.signing_secret, body=body)
    return _post(delivery.destination, body, headers, timeout=rule.timeout)


def _post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> int:
    if not url.startswith(("http://", "https://")):
        raise DeliveryError(f"not an http(s) URL: {url!r}", retryable=False)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - scheme checked
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked
            return response.status
    except urllib.error.HTTPError as exc:
        retryable = exc.code >= 500 or exc.code in RETRYABLE_HTTP_CODES
        raise DeliveryError(f"HTTP {exc.code} {exc.reason}", code=exc.code, retryable=retryable)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"{type(exc).__name__}: {reason}")


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
