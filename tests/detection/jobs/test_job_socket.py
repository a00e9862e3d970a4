"""The job page's websocket: the owner hears the progress partial, anyone else is refused."""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from anomaly_site.routing import websocket_urlpatterns
from detection.jobs import progress as job_progress
from detection.models import ScoringJob
from tests.factories import UserFactory, default_organisation
from transactions.models import Source
from transactions.services import source_get_or_create

pytestmark = pytest.mark.django_db(transaction=True)


def make_job(user, **fields) -> ScoringJob:
    values = {"file_path": "jobs/x/upload.csv", "file_format": "csv", "status": ScoringJob.Status.RUNNING} | fields
    return ScoringJob.objects.create(
        source=_uploads_source(),
        created_by=user,
        **values,
    )


def communicator(user, job: ScoringJob) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/jobs/{job.pk}/")
    socket.scope["user"] = user
    return socket


async def _connect_and_hear_update(socket: WebsocketCommunicator, job: ScoringJob):
    connected, _ = await socket.connect()
    first = await socket.receive_from(timeout=5)
    await ScoringJob.objects.filter(pk=job.pk).aupdate(processed_rows=100, total_rows=100)
    await database_sync_to_async(job_progress.publish)(job.pk)
    second = await socket.receive_from(timeout=5)
    await socket.disconnect()
    return connected, first, second


async def _connect(socket: WebsocketCommunicator):
    connected, code = await socket.connect()
    await socket.disconnect()
    return connected, code


def test_owner_hears_the_progress_partial_after_each_publish(analyst):
    job = make_job(analyst, total_rows=100, processed_rows=40)

    connected, first, second = async_to_sync(_connect_and_hear_update)(communicator(analyst, job), job)

    assert connected
    assert first.lstrip().startswith('<div id="job-progress"') and "40.0%" in first
    assert "100.0%" in second


def test_another_analyst_is_refused(analyst):
    job = make_job(UserFactory(username="carol"))

    connected, code = async_to_sync(_connect)(communicator(analyst, job))

    assert not connected
    assert code == 4403


def test_a_viewer_is_refused(viewer):
    job = make_job(viewer)

    connected, _ = async_to_sync(_connect)(communicator(viewer, job))

    assert not connected


def test_an_admin_of_another_organisation_is_refused(analyst, other_admin):
    job = make_job(analyst)

    connected, code = async_to_sync(_connect)(communicator(other_admin, job))

    assert not connected
    assert code == 4403


def test_an_analyst_of_another_organisation_is_refused_their_own_looking_job(other_analyst):
    job = make_job(other_analyst)  # created by them, but scoring into the test organisation's source

    connected, code = async_to_sync(_connect)(communicator(other_analyst, job))

    assert not connected
    assert code == 4403


def test_a_member_of_two_organisations_hears_a_job_only_while_their_session_works_in_its_organisation(
    organisation, other_organisation
):
    from django.contrib.sessions.backends.db import SessionStore

    from accounts.selectors import SESSION_KEY
    from accounts.services import ANALYST

    member = UserFactory(username="dora", roles=[ANALYST], organisations=[organisation, other_organisation])
    job = make_job(member)  # in the test organisation

    results = {}
    for working_in in (other_organisation, organisation):
        session = SessionStore()
        session[SESSION_KEY] = working_in.pk
        session.save()
        socket = communicator(member, job)
        socket.scope["session"] = SessionStore(session_key=session.session_key)
        results[working_in.name] = async_to_sync(_connect)(socket)

    assert results == {"other-org": (False, 4403), "test-org": (True, None)}


def _uploads_source():
    return source_get_or_create(organisation=default_organisation(), name="uploads", kind=Source.Kind.UPLOAD)
