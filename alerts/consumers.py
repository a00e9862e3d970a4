"""The header bell's websocket: logged-in users with the review permission get their bell re-rendered live."""

from asgiref.sync import async_to_sync
from channels.generic.websocket import WebsocketConsumer

from alerts.live import ALERTS_GROUP, bell_render, user_may_see_alerts


class AlertBellConsumer(WebsocketConsumer):
    def connect(self):
        self.user = self.scope.get("user")
        if not user_may_see_alerts(self.user):
            self.close(code=4403)
            return
        async_to_sync(self.channel_layer.group_add)(ALERTS_GROUP, self.channel_name)
        self.accept()

    def disconnect(self, code):
        async_to_sync(self.channel_layer.group_discard)(ALERTS_GROUP, self.channel_name)

    def alerts_changed(self, event):
        self.send(text_data=bell_render(self.user))
