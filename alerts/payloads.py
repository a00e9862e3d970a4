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


def drift_url(feature: str) -> str:
    try:
        path = reverse("monitoring:drift_feature", args=[feature])
    except NoReverseMatch:
        path = f"/monitoring/drift/{feature}/"
    return settings.SITE_URL + path


def alert_url(alert: Alert) -> str:
    """Where a person reads what the alert is about: its transaction, or the drifted feature's page."""
    return drift_url(alert.drift_feature) if alert.is_drift else transaction_url(alert.transaction_id)


def drift_risk(alert: Alert) -> str:
    """A drift alert's severity: high from a shift (PSI 0.25), medium below."""
    return Score.RiskLevel.HIGH if (alert.drift_psi or 0) >= 0.25 else Score.RiskLevel.MEDIUM


def alert_risk(alert: Alert) -> str:
    return drift_risk(alert) if alert.is_drift else alert.score.risk_level


def _drift_item(alert: Alert) -> dict:
    return {
        "alert_id": alert.pk,
        "kind": "drift",
        "day": alert.drift_day.isoformat(),
        "feature": alert.drift_feature,
        "psi": round(alert.drift_psi, 6),
        "threshold": alert.rule.drift_threshold,
        "risk_level": drift_risk(alert),
        "url": drift_url(alert.drift_feature),
    }


def _alert_item(alert: Alert) -> dict:
    if alert.is_drift:
        return _drift_item(alert)
    tx, score = alert.transaction, alert.score
    return {
        "alert_id": alert.pk,
        "kind": "transaction",
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
    alerts = delivery.alerts.select_related("transaction", "score", "rule")
    return list(alerts.order_by("drift_day", "transaction__timestamp", "id"))


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
    if alert.is_drift:
        return (
            f"DRIFT {alert.drift_feature} PSI {alert.drift_psi:.3f} on {alert.drift_day.isoformat()}"
            f" (above {alert.rule.drift_threshold:g}) · {drift_url(alert.drift_feature)}"
        )
    tx, score = alert.transaction, alert.score
    return (
        f"{score.risk_level.upper()} {score.score:.3f} · {tx.amount} {tx.currency} · account {tx.account_id}"
        f" · merchant {tx.merchant_id or '-'} · {transaction_url(tx.pk)}"
    )


def summary_subject(delivery: AlertDelivery, alerts: list[Alert]) -> str:
    if alerts and all(alert.is_drift for alert in alerts):
        noun = "feature drifted" if len(alerts) == 1 else "features drifted"
        return f"[Sentinel] {delivery.rule.name}: {len(alerts)} {noun}"
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
    return max((alert_risk(alert) for alert in alerts), key=order.index, default=Score.RiskLevel.LOW)


def dedup_key(delivery: AlertDelivery, alerts: list[Alert]) -> str:
    """The same for every send of the same alert (retries, resends), different for another alert: PagerDuty and
    Opsgenie fold events with one key into one incident, so a repeated alert does not page twice. A summary takes
    the key of its first alert (an alert is summarised in one delivery only)."""
    first = min((alert.pk for alert in alerts), default=0)
    return f"sentinel:{delivery.rule.organisation_id}:rule:{delivery.rule_id}:alert:{first}"


def alert_items(alerts: list[Alert], *, limit: int = 20) -> list[dict]:
    return [_alert_item(alert) for alert in alerts[:limit]]
