"""Opsgenie Alert API: POST /v2/alerts with `Authorization: GenieKey <API key>`; the `alias` folds repeats of one
alert into the open one (Opsgenie counts them instead of notifying again). Opsgenie answers 202."""

import json

from django.conf import settings

from alerts import payloads
from alerts.channels.http import post
from alerts.models import Alert, AlertDelivery

PRIORITY = {"low": "P4", "medium": "P3", "high": "P2", "critical": "P1"}
ALERTS_PATH = "/v2/alerts"


def alert_body(delivery: AlertDelivery, alerts: list[Alert]) -> dict:
    rule, risk = delivery.rule, payloads.top_risk(alerts)
    first = alerts[0]
    return {
        "message": payloads.summary_subject(delivery, alerts)[:130],
        "alias": payloads.dedup_key(delivery, alerts)[:512],
        "description": payloads.summary_text(delivery, alerts)[:15000],
        "priority": PRIORITY[risk],
        "source": "Sentinel",
        "entity": rule.organisation.name,
        "tags": ["sentinel", f"risk:{risk}"],
        "details": {
            "rule": rule.name,
            "count": str(len(alerts)),
            **(
                {"feature": first.drift_feature, "day": first.drift_day.isoformat()}
                if first.is_drift
                else {"transaction_id": first.transaction.transaction_id}
            ),
            "url": payloads.alert_url(first),
        },
    }


def send(delivery: AlertDelivery, alerts: list[Alert], *, secret: str, timeout: float) -> int:
    body = json.dumps(alert_body(delivery, alerts)).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"GenieKey {secret}"}
    return post(settings.ALERTS_OPSGENIE_BASE_URL.rstrip("/") + ALERTS_PATH, body, headers, timeout=timeout)
