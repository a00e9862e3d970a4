"""Microsoft Teams through a Workflows webhook ("When a Teams webhook request is received"): a message whose one
attachment is an Adaptive Card. The workflow's URL carries its signature (`sig=`), so the URL is the secret."""

import json

from alerts import payloads
from alerts.channels.http import post
from alerts.models import Alert, AlertDelivery

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_VERSION = "1.4"
COLOUR = {"low": "Default", "medium": "Warning", "high": "Attention", "critical": "Attention"}


def _fact(alert: Alert) -> dict:
    if alert.is_drift:
        return {
            "title": f"DRIFT {alert.drift_feature}",
            "value": f"PSI {alert.drift_psi:.3f} on {alert.drift_day.isoformat()}",
        }
    tx, score = alert.transaction, alert.score
    return {
        "title": f"{score.risk_level.upper()} {score.score:.3f}",
        "value": f"{tx.amount} {tx.currency} · account {tx.account_id} · merchant {tx.merchant_id or '-'}",
    }


def card(delivery: AlertDelivery, alerts: list[Alert], *, limit: int = 10) -> dict:
    body = [
        {
            "type": "TextBlock",
            "text": payloads.summary_subject(delivery, alerts),
            "weight": "Bolder",
            "size": "Medium",
            "color": COLOUR[payloads.top_risk(alerts)],
            "wrap": True,
        },
        {"type": "FactSet", "facts": [_fact(alert) for alert in alerts[:limit]]},
    ]
    if len(alerts) > limit:
        body.append({"type": "TextBlock", "text": f"… and {len(alerts) - limit} more", "isSubtle": True})
    return {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        "actions": [
            {"type": "Action.OpenUrl", "title": "Open in Sentinel", "url": payloads.alert_url(a)} for a in alerts[:1]
        ],
    }


def message(delivery: AlertDelivery, alerts: list[Alert]) -> dict:
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card(delivery, alerts)}],
    }


def send(delivery: AlertDelivery, alerts: list[Alert], *, secret: str, timeout: float) -> int:
    body = json.dumps(message(delivery, alerts)).encode()
    return post(secret, body, {"Content-Type": "application/json"}, timeout=timeout)
