"""What a delivery says: the JSON for webhooks, the text for Slack and the e-mail subject and body."""

import json

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from alerts.models import Alert, AlertDelivery


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
