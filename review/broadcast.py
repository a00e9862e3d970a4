"""Tell every open review queue that items were created or changed, after the change is committed.

The message carries ids only: each connected queue renders the rows itself with the same partial template the
page uses, for its own user (buttons depend on who is looking) and its own filters.
"""

import logging

from django.db import transaction

from core.channel_send import group_send

logger = logging.getLogger(__name__)

QUEUE_GROUP = "review-queue"
EVENTS = ("created", "changed")


def review_queue_broadcast(*, item_ids: list[int], event: str) -> None:
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    if item_ids:
        group_send(QUEUE_GROUP, {"type": "queue.event", "event": event, "item_ids": item_ids})


def review_queue_broadcast_on_commit(*, item_ids: list[int], event: str) -> None:
    """Broadcast once the surrounding transaction commits; a failed broadcast is logged, never raised, since the
    change itself is saved and the next page load shows it."""
    ids = list(item_ids)
    transaction.on_commit(lambda: review_queue_broadcast(item_ids=ids, event=event), robust=True)
