"""What a delivery says: the JSON for webhooks, the text for Slack and the e-mail subject and body."""

import json

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from alerts.models import Alert, AlertDelivery
from detection.models import Score


def transaction_url(transaction_pk: int) -> str:
    try:
        path = reverse("review:transaction", args=[transaction_pk])
    except NoReverseMatch:
        path = f"/review/transactions/{transaction_pk}/"
    return settings.SITE_URL + path


def _alert_item(alert: Alert) -> dict:
    tx, score = alert.transaction, alert.score
    return {
        "alert_id": alert.pk,
        "transaction": tx.pk,
        "transaction_id": tx.transaction_id,
        "timestamp": tx.timestamp.isoformat(),
        "account_id": tx.account_id,
        "merchant_id": tx.merchant_id,
        "merchant_category": tx.merchant_category,
        "channel": tx.channel,
        "amount": str(tx.amount),
        "currency": tx.currency,
        "score": round(score.score, 6),
        "risk_level": score.risk_level,
        "reasons": score.reasons,
        "url": transaction_url(tx.pk),
    }


def delivery_alerts(delivery: AlertDelivery) -> list[Alert]:
    return list(delivery.alerts.select_related("transaction", "score").order_by("transaction__timestamp", "id"))


def webhook_payload(delivery: AlertDelivery, alerts: list[Alert]) -> dict:
    return {
        "event": "alert",
        "delivery": delivery.pk,
        "rule": {"id": delivery.rule_id, "name": delivery.rule.name},
        "count": len(alerts),
        "alerts": [_alert_item(alert) for alert in alerts],
    }


def webhook_body(delivery: AlertDelivery, alerts: list[Alert]) -> bytes:
    return json.dumps(webhook_payload(delivery, alerts), separators=(",", ":"), sort_keys=True).encode()


def _line(alert: Alert) -> str:
    tx, score = alert.transaction, alert.score
    return (
        f"{score.risk_level.upper()} {score.score:.3f} · {tx.amount} {tx.currency} · account {tx.account_id}"
        f" · merchant {tx.merchant_id or '-'} · {transaction_url(tx.pk)}"
    )


def summary_subject(delivery: AlertDelivery, alerts: list[Alert]) -> str:
    noun = "transaction" if len(alerts) == 1 else "transactions"
    return f"[Sentinel] {delivery.rule.name}: {len(alerts)} {noun}"


def summary_text(delivery: AlertDelivery, alerts: list[Alert], *, limit: int = 50) -> str:
    lines = [summary_subject(delivery, alerts)]
    lines += [_line(alert) for alert in alerts[:limit]]
    if len(alerts) > limit:
        lines.append(f"… and {len(alerts) - limit} more")
    return "\n".join(lines)


def slack_body(delivery: AlertDelivery, alerts: list[Alert]) -> bytes:
    return json.dumps({"text": summary_text(delivery, alerts, limit=20)}).encode()


def top_risk(alerts: list[Alert]) -> str:
    """The highest risk level among the alerts (what an on-call service's severity follows)."""
    order = [level.value for level in Score.RiskLevel]
    return max((alert.score.risk_level for alert in alerts), key=order.index, default=Score.RiskLevel.LOW)


def dedup_key(delivery: AlertDelivery, alerts: list[Alert]) -> str:
    """The same for every send of the same alert (retries, resends), different for another alert: PagerDuty and
    Opsgenie fold events with one key into one incident, so a repeated alert does not page twice. A summary takes
    the key of its first alert (an alert is summarised in one delivery only)."""
    first = min((alert.pk for alert in alerts), default=0)
    return f"sentinel:{delivery.rule.organisation_id}:rule:{delivery.rule_id}:alert:{first}"


def alert_items(alerts: list[Alert], *, limit: int = 20) -> list[dict]:
    return [_alert_item(alert) for alert in alerts[:limit]]
