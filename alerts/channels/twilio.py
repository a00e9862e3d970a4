"""SMS through Twilio's Messages resource: one form-encoded POST (To, From or MessagingServiceSid, Body) per
recipient to /2010-04-01/Accounts/<account SID>/Messages.json, with HTTP basic auth (account SID, auth token).
Twilio answers 201. The recipients reached are recorded on the delivery, so a retry texts only the others."""

import base64
import urllib.parse

from django.conf import settings

from alerts import payloads
from alerts.channels.http import post
from alerts.models import Alert, AlertDelivery

BODY_CHARS = 1600  # Twilio's limit for one message's body


def messages_url(account_sid: str) -> str:
    base = settings.ALERTS_TWILIO_BASE_URL.rstrip("/")
    return f"{base}/2010-04-01/Accounts/{urllib.parse.quote(account_sid)}/Messages.json"


def form(delivery: AlertDelivery, alerts: list[Alert], *, to: str) -> dict[str, str]:
    sender = delivery.rule.sms_from
    fields = {"To": to, "Body": payloads.summary_text(delivery, alerts, limit=3)[:BODY_CHARS]}
    fields |= {"MessagingServiceSid": sender} if sender.startswith("MG") else {"From": sender}
    return fields


def send(delivery: AlertDelivery, alerts: list[Alert], *, secret: str, timeout: float) -> int | None:
    account_sid = delivery.rule.twilio_account_sid
    credentials = base64.b64encode(f"{account_sid}:{secret}".encode()).decode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {credentials}"}
    reached = list(delivery.sent_to)
    code = None
    for number in [part.strip() for part in delivery.destination.split(",") if part.strip()]:
        if number in reached:
            continue
        body = urllib.parse.urlencode(form(delivery, alerts, to=number)).encode()
        code = post(messages_url(account_sid), body, headers, timeout=timeout)
        reached.append(number)
        AlertDelivery.objects.filter(pk=delivery.pk).update(sent_to=reached)
    return code
