"""The review queue's websocket: every open queue hears of new and changed items and swaps in their rows."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.http import QueryDict

from review.broadcast import QUEUE_GROUP
from review.forms import QueueFilterForm
from review.rendering import socket_update_html
from review.selectors import review_queue, review_queue_counts

MAX_ROWS_PER_MESSAGE = 50
VIEW_PERM = "review.view_reviewitem"


def _may_watch(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.has_perm(VIEW_PERM))


class ReviewQueueConsumer(AsyncWebsocketConsumer):
    """Connect with the queue's own query string, so rows are judged against the filters that page shows."""

    joined = False

    async def connect(self):
        self.user = self.scope.get("user")
        if not await database_sync_to_async(_may_watch)(self.user):
            await self.close(code=4403)
            return
        query = QueryDict(self.scope.get("query_string", b"").decode())
        self.filters = QueueFilterForm(query).filters()
        await self.channel_layer.group_add(QUEUE_GROUP, self.channel_name)
        self.joined = True
        await self.accept()

    async def disconnect(self, code):
        if self.joined:
            await self.channel_layer.group_discard(QUEUE_GROUP, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        """The queue only listens; anything a client sends is ignored."""

    async def queue_event(self, event):
        html = await database_sync_to_async(self._render)(event["event"], event["item_ids"])
        await self.send(text_data=html)

    def _render(self, event: str, item_ids: list[int]) -> str:
        queryset = review_queue(user=self.user, filters=self.filters).filter(pk__in=item_ids)
        matching = list(queryset[:MAX_ROWS_PER_MESSAGE])
        shown = {item.pk for item in matching}
        removed = [pk for pk in item_ids if pk not in shown] if event == "changed" else []
        counts = review_queue_counts(user=self.user)
        return socket_update_html(user=self.user, event=event, items=matching, removed_ids=removed, counts=counts)
