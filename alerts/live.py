"""Live alerts: a broadcast tells every connected analyst's socket to re-render its bell."""

import logging

from django.template.loader import render_to_string

from alerts.selectors import alerts_recent, alerts_unseen_count
from core.channel_send import group_send

logger = logging.getLogger(__name__)

ALERTS_GROUP = "alerts"
BELL_TEMPLATE = "alerts/_bell.html"


def user_may_see_alerts(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm("review.view_reviewitem"))


def bell_context(user) -> dict:
    return {"alerts": alerts_recent(limit=10), "unseen": alerts_unseen_count(user=user)}


def bell_render(user) -> str:
    return render_to_string(BELL_TEMPLATE, bell_context(user))


def bell_broadcast() -> None:
    """Called after new alerts are committed; a channel layer that is down costs the live update, nothing else."""
    try:
        group_send(ALERTS_GROUP, {"type": "alerts.changed"})
    except Exception:  # noqa: BLE001
        logger.exception("could not broadcast new alerts")
