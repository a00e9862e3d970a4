"""Tell an organisation's open review queues that items were created or changed, after the change is committed.

Each organisation's queues form one channel-layer group, so no queue ever hears of another organisation's items.
The message carries ids only: each connected queue renders the rows itself with the same partial template the page
uses, for its own user (buttons depend on who is looking) and its own filters.
"""

import logging

from django.db import transaction

from core.channel_send import group_send

logger = logging.getLogger(__name__)

EVENTS = ("created", "changed")


def queue_group(organisation_id: int) -> str:
    """The channel-layer group of one organisation's open queues."""
    return f"review-queue-{organisation_id}"


def review_queue_broadcast(*, organisation_id: int, item_ids: list[int], event: str, case_ids=()) -> None:
    """`case_ids`: cases changed besides those of the items (assigned, snoozed, linked, closed), for the pages that
    show cases."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    if item_ids or case_ids:
        message = {"type": "queue.event", "event": event, "item_ids": list(item_ids)}
        if case_ids:
            message["case_ids"] = list(case_ids)
        group_send(queue_group(organisation_id), message)


def review_queue_broadcast_on_commit(*, organisation_id: int, item_ids: list[int], event: str, case_ids=()) -> None:
    """Broadcast to the organisation's queues once the surrounding transaction commits; a failed broadcast is logged,
    never raised, since the change itself is saved and the next page load shows it."""
    message = {"organisation_id": organisation_id, "item_ids": list(item_ids), "event": event}
    if case_ids:
        message["case_ids"] = list(case_ids)
    transaction.on_commit(lambda: review_queue_broadcast(**message), robust=True)
