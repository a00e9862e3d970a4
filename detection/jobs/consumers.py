"""A scoring job's websocket (/ws/jobs/<id>/): joins the Channels group `job_<id>` and forwards the job page's own
progress partial after each chunk, so the bar moves without polling."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from accounts.selectors import organisation_for_scope
from detection.jobs.progress import group_name
from detection.jobs.selectors import scoring_jobs_visible
from detection.jobs.views import job_progress_html


def _organisation_id(scope) -> int | None:
    organisation = organisation_for_scope(scope)
    return organisation.pk if organisation is not None else None


def _render(user, organisation_id: int | None, job_id: int) -> str | None:
    """The progress partial of the job if the user may follow it in the organisation the session works in."""
    job = scoring_jobs_visible(user=user, organisation_id=organisation_id).filter(pk=job_id).first()
    return job_progress_html(job) if job is not None else None


class JobProgressConsumer(AsyncWebsocketConsumer):
    group = ""

    async def connect(self):
        self.user = self.scope.get("user")
        self.job_id = int(self.scope["url_route"]["kwargs"]["job_id"])
        self.organisation_id = await database_sync_to_async(_organisation_id)(self.scope)
        html = await database_sync_to_async(_render)(self.user, self.organisation_id, self.job_id)
        if html is None:
            await self.close(code=4403)
            return
        self.group = group_name(self.job_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send(text_data=html)  # whatever happened between the page's render and this connection

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        """The page only listens."""

    async def job_progress(self, event):
        html = await database_sync_to_async(_render)(self.user, self.organisation_id, self.job_id)
        if html is not None:
            await self.send(text_data=html)
