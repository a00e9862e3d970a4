"""A job upload whose split the broker cannot take, through the API and through the upload page: 503 with Retry-After,
the job failed saying why and its file removed; never a job left pending for ever. (Against a real silent Redis:
tests/anomaly_site/test_faults.py.)"""

import json
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from kombu.exceptions import OperationalError as BrokerDown

from detection.jobs.tasks import scoring_job_split_task
from detection.models import ScoringJob
from tests.detection.jobs.jobs_data import MAPPING, csv_upload, job_frame

pytestmark = pytest.mark.django_db(transaction=True)  # the split is queued after the job's row commits


@pytest.fixture
def broker_down(monkeypatch):
    tries = []

    def refuse(*args, **kwargs):
        tries.append(kwargs.get("retry_policy"))
        raise BrokerDown("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(scoring_job_split_task, "apply_async", refuse)
    return tries


def assert_failed_not_pending(job: ScoringJob) -> None:
    assert job.status == ScoringJob.Status.FAILED
    assert job.error == "The job queue did not answer, so the file was not scored: upload it again."
    assert not (Path(settings.MEDIA_ROOT) / job.file_path).exists()


def test_an_api_upload_the_broker_cannot_take_is_a_503_and_its_job_fails(scorer, broker_down):
    response = scorer.post("/api/v1/jobs", {"file": csv_upload(job_frame(12)), "mapping": json.dumps(MAPPING)})

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.json()["errors"] == [
        {
            "field": None,
            "reason": "The job queue does not answer; upload the file again in a moment.",
            "code": "unavailable",
        }
    ]
    assert_failed_not_pending(ScoringJob.objects.get())
    assert broker_down == [{"max_retries": 1, "interval_start": 0.1, "interval_step": 0.1, "interval_max": 0.1}]


def test_a_page_upload_the_broker_cannot_take_is_the_503_page_and_its_job_fails(analyst, broker_down):
    client = Client(raise_request_exception=False)
    client.force_login(analyst)
    staged = client.post(reverse("detection:uploads"), {"file": csv_upload(job_frame(12))})
    map_url = staged["Location"]
    fields = {f"map_{field}": column for field, column in MAPPING.items()}

    response = client.post(map_url, fields)

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert b"Sentinel is briefly unavailable" in response.content
    assert_failed_not_pending(ScoringJob.objects.get())
