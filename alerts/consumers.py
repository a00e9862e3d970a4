"""The header bell's websocket: logged-in users with the review permission get their organisation's bell re-rendered
live; users of no organisation are refused."""

from asgiref.sync import async_to_sync
from channels.generic.websocket import WebsocketConsumer

from accounts.selectors import organisation_for_scope
from alerts.live import bell_group, bell_render, user_may_see_alerts


class AlertBellConsumer(WebsocketConsumer):
    group = ""

    def connect(self):
        self.user = self.scope.get("user")
        organisation = organisation_for_scope(self.scope) if user_may_see_alerts(self.user) else None
        if organisation is None:
            self.close(code=4403)
            return
        self.organisation_id = organisation.pk
        self.group = bell_group(self.organisation_id)
        async_to_sync(self.channel_layer.group_add)(self.group, self.channel_name)
        self.accept()

    def disconnect(self, code):
        if self.group:
            async_to_sync(self.channel_layer.group_discard)(self.group, self.channel_name)

    def alerts_changed(self, event):
        self.send(text_data=bell_render(self.user, organisation_id=self.organisation_id))
