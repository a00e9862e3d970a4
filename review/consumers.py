"""The review queue's websocket: an organisation's open queues hear of its new and changed items and swap in their
rows; no other organisation's."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.http import QueryDict

from accounts.selectors import organisation_for_scope
from review.broadcast import queue_group
from review.cases.live import case_update_html, cases_update_html, socket_mode
from review.forms import QueueFilterForm
from review.rendering import socket_update_html
from review.selectors import review_queue, review_queue_counts

MAX_ROWS_PER_MESSAGE = 50
VIEW_PERM = "review.view_reviewitem"


def _organisation_to_watch(scope) -> int | None:
    """The organisation whose queue the socket's user works in (as the pages decide), or None if they may not watch
    one: no permission to see review items, or no organisation."""
    user = scope.get("user")
    if not (user and user.is_authenticated and user.is_active and user.has_perm(VIEW_PERM)):
        return None
    organisation = organisation_for_scope(scope)
    return organisation.pk if organisation is not None else None


class ReviewQueueConsumer(AsyncWebsocketConsumer):
    """Connect with the queue's own query string, so rows are judged against the filters that page shows."""

    group = ""

    async def connect(self):
        self.user = self.scope.get("user")
        self.organisation_id = await database_sync_to_async(_organisation_to_watch)(self.scope)
        if self.organisation_id is None:
            await self.close(code=4403)
            return
        query = QueryDict(self.scope.get("query_string", b"").decode())
        self.filters = QueueFilterForm(query).filters()
        self.mode, self.mode_arg = socket_mode(query)
        self.group = queue_group(self.organisation_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        """The queue only listens; anything a client sends is ignored."""

    async def queue_event(self, event):
        html = await database_sync_to_async(self._render_for_page)(event)
        if html.strip():
            await self.send(text_data=html)

    def _render_for_page(self, event: dict) -> str:
        """The queue's rows, or the cases page's or a case page's (review.cases.live) as the socket was opened for."""
        item_ids, case_ids = event["item_ids"], event.get("case_ids", [])
        common = {
            "organisation_id": self.organisation_id,
            "user": self.user,
            "item_ids": item_ids,
            "case_ids": case_ids,
        }
        if self.mode == "cases":
            return cases_update_html(filters=self.mode_arg, **common)
        if self.mode == "case":
            return case_update_html(case_id=self.mode_arg, **common)
        return self._render(event["event"], item_ids)

    def _render(self, event: str, item_ids: list[int]) -> str:
        queue = review_queue(organisation_id=self.organisation_id, user=self.user, filters=self.filters)
        matching = list(queue.filter(pk__in=item_ids)[:MAX_ROWS_PER_MESSAGE])
        shown = {item.pk for item in matching}
        removed = [pk for pk in item_ids if pk not in shown] if event == "changed" else []
        counts = review_queue_counts(organisation_id=self.organisation_id, user=self.user)
        return socket_update_html(user=self.user, event=event, items=matching, removed_ids=removed, counts=counts)
