"""PagerDuty Events API v2: a `trigger` event to /v2/enqueue, authenticated by the routing (integration) key in the
body; `dedup_key` folds repeats of one alert into one incident. PagerDuty answers 202."""

import json

from django.conf import settings

from alerts import payloads
from alerts.channels.http import post
from alerts.models import Alert, AlertDelivery

SEVERITY = {"low": "info", "medium": "warning", "high": "error", "critical": "critical"}
ENQUEUE_PATH = "/v2/enqueue"


def event(delivery: AlertDelivery, alerts: list[Alert], *, routing_key: str) -> dict:
    rule = delivery.rule
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": payloads.dedup_key(delivery, alerts),
        "payload": {
            "summary": payloads.summary_subject(delivery, alerts)[:1024],
            "source": settings.SITE_URL,
            "severity": SEVERITY[payloads.top_risk(alerts)],
            "timestamp": min(alert.created_at for alert in alerts).isoformat(),
            "component": "alerts",
            "group": rule.organisation.name,
            "class": "feature drift" if all(alert.is_drift for alert in alerts) else "transaction anomaly",
            "custom_details": {"rule": rule.name, "count": len(alerts), "alerts": payloads.alert_items(alerts)},
        },
        "client": "Sentinel",
        "client_url": settings.SITE_URL,
        "links": [{"href": payloads.alert_url(a), "text": "Open in Sentinel"} for a in alerts[:5]],
    }


def send(delivery: AlertDelivery, alerts: list[Alert], *, secret: str, timeout: float) -> int:
    body = json.dumps(event(delivery, alerts, routing_key=secret)).encode()
    url = settings.ALERTS_PAGERDUTY_BASE_URL.rstrip("/") + ENQUEUE_PATH
    return post(url, body, {"Content-Type": "application/json"}, timeout=timeout)
