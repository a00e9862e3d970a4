"""Context shared by the page's rows and the websocket's rows, so both render the same partial the same way."""

from django.conf import settings
from django.template.loader import render_to_string

DECIDE_PERM = "review.decide_reviewitem"


def can_decide(user) -> bool:
    return user.has_perm(DECIDE_PERM)


def row_context(user) -> dict:
    return {
        "can_decide": can_decide(user),
        "me": user,
        "sla_amber": settings.REVIEW_SLA_AMBER_MINUTES,
        "sla_red": settings.REVIEW_SLA_RED_MINUTES,
    }


def socket_update_html(*, user, event: str, items, removed_ids, counts) -> str:
    """The websocket's message: the page's own row partial for each item, marked for an out-of-band swap by id.

    New items are prepended to the table; changed items replace their row; items that no longer match this
    queue's filters are removed from it. The header counts are refreshed alongside.
    """
    context = {"event": event, "items": items, "removed_ids": removed_ids, "counts": counts, **row_context(user)}
    return render_to_string("review/queue.html#socket-update", context)
