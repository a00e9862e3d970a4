"""Live alerts: a broadcast tells an organisation's connected analysts' sockets to re-render their bells."""

import logging

from django.template.loader import render_to_string

from alerts.selectors import alerts_recent, alerts_unseen_count
from core.channel_send import group_send

logger = logging.getLogger(__name__)

BELL_TEMPLATE = "alerts/_bell.html"


def bell_group(organisation_id: int) -> str:
    """The channel-layer group of one organisation's bells."""
    return f"alerts-{organisation_id}"


def user_may_see_alerts(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm("review.view_reviewitem"))


def bell_context(user, *, organisation_id: int) -> dict:
    return {
        "alerts": alerts_recent(organisation_id=organisation_id, limit=10),
        "unseen": alerts_unseen_count(user=user, organisation_id=organisation_id),
    }


def bell_render(user, *, organisation_id: int) -> str:
    return render_to_string(BELL_TEMPLATE, bell_context(user, organisation_id=organisation_id))


def bell_broadcast(*, organisation_id: int) -> None:
    """Called after an organisation's new alerts are committed; a channel layer that is down costs the live update,
    nothing else."""
    try:
        group_send(bell_group(organisation_id), {"type": "alerts.changed"})
    except Exception:  # noqa: BLE001
        logger.exception("could not broadcast new alerts", extra={"organisation_id": organisation_id})
