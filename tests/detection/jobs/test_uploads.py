"""Uploads for people: stage a file, map its columns (guessed), start a job, follow it, read and download it."""

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from accounts.services import ANALYST, VIEWER
from detection.jobs import services as jobs
from detection.jobs.selectors import RESULT_COLUMNS
from detection.models import ScoringJob
from detection.staging.selectors import staged_upload_get
from tests.conftest import work_in
from tests.detection.jobs.jobs_data import MAPPING, csv_upload, job_frame, parquet_upload
from tests.factories import UserFactory, default_organisation

INDEX = reverse("detection:uploads")


def stage(client, frame=None, name="rows.csv"):
    frame = job_frame(12) if frame is None else frame
    upload = parquet_upload(frame, name) if name.endswith(".parquet") else csv_upload(frame, name)
    return client.post(INDEX, {"file": upload})


def staged_key(response) -> str:
    return response["Location"].rstrip("/").split("/")[-2]


def mapping_post(form_data: dict | None = None) -> dict:
    data = {f"map_{field}": column for field, column in MAPPING.items()}
    return data | {"attributes": ["transaction_count_1h"]} | (form_data or {})


def test_uploaded_file_goes_to_its_mapping_form(analyst_client):
    response = stage(analyst_client)

    assert response.status_code == 302
    assert response["Location"] == reverse("detection:upload_map", kwargs={"key": staged_key(response)})


def test_mapping_form_guesses_columns_from_the_header(analyst_client):
    key = staged_key(stage(analyst_client))

    response = analyst_client.get(reverse("detection:upload_map", kwargs={"key": key}))

    form = response.context["form"]
    assert response.status_code == 200
    guessed = {name: form[f"map_{name}"].initial for name in ("transaction_id", "timestamp", "account_id", "amount")}
    assert guessed == MAPPING
    assert form["map_channel"].initial == "is_online"


def test_mapping_form_ticks_no_extra_column_as_a_feature(analyst_client):
    key = staged_key(stage(analyst_client, job_frame(12).assign(anomaly_type=0, split="train")))

    response = analyst_client.get(reverse("detection:upload_map", kwargs={"key": key}))

    assert response.context["form"]["attributes"].initial is None
    assert "checked" not in str(response.context["form"]["attributes"])


def test_label_column_is_guessed(analyst_client):
    frame = job_frame(5, bad=False).assign(is_fraud=0)
    key = staged_key(stage(analyst_client, frame))

    response = analyst_client.get(reverse("detection:upload_map", kwargs={"key": key}))

    assert response.status_code == 200
    assert response.context["form"]["label_column"].initial == "is_fraud"


def test_parquet_files_are_read_too(analyst_client):
    key = staged_key(stage(analyst_client, name="rows.parquet"))

    response = analyst_client.get(reverse("detection:upload_map", kwargs={"key": key}))

    assert response.status_code == 200
    assert response.context["staged"].columns == list(job_frame(1).columns)
    assert len(response.context["preview"]) == 5


def test_a_file_that_is_not_csv_or_parquet_is_refused(analyst_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = analyst_client.post(INDEX, {"file": SimpleUploadedFile("notes.txt", b"hello")})

    assert response.status_code == 200
    assert "Upload a .csv or .parquet file." in response.content.decode()


def test_confirmed_mapping_creates_a_scoring_job(analyst_client, analyst, django_capture_on_commit_callbacks):
    key = staged_key(stage(analyst_client))

    with django_capture_on_commit_callbacks() as callbacks:
        response = analyst_client.post(reverse("detection:upload_map", kwargs={"key": key}), mapping_post())

    job = ScoringJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("detection:upload_job", kwargs={"pk": job.pk})
    assert (job.mapping, job.attributes, job.created_by, job.source.name) == (
        MAPPING,
        ["transaction_count_1h"],
        analyst,
        "uploads",
    )
    assert len(callbacks) == 1  # the split task, queued after commit
    assert staged_upload_get(session=analyst_client.session, key=key) is None


def test_a_column_mapped_twice_is_refused(analyst_client):
    key = staged_key(stage(analyst_client))

    response = analyst_client.post(
        reverse("detection:upload_map", kwargs={"key": key}), mapping_post({"map_merchant_id": "user_id"})
    )

    assert response.status_code == 200
    assert "is mapped to more than one field" in response.content.decode()
    assert not ScoringJob.objects.exists()


def test_a_missing_required_field_is_refused(analyst_client):
    key = staged_key(stage(analyst_client))

    response = analyst_client.post(
        reverse("detection:upload_map", kwargs={"key": key}), mapping_post({"map_amount": ""})
    )

    assert response.status_code == 200
    assert response.context["form"].errors["map_amount"]
    assert not ScoringJob.objects.exists()


def test_someone_elses_staged_file_cannot_be_mapped(analyst_client, second_analyst):
    key = staged_key(stage(analyst_client))
    other = Client()
    other.force_login(second_analyst)

    response = other.get(reverse("detection:upload_map", kwargs={"key": key}))

    assert response.status_code == 404


def staged_files() -> set[Path]:
    staged = Path(settings.MEDIA_ROOT) / "staged"
    return set(staged.rglob("*")) if staged.exists() else set()


def test_viewer_may_not_upload(client, viewer):
    client.force_login(viewer)
    before = staged_files()

    response = stage(client)

    assert response.status_code == 403
    assert not ScoringJob.objects.exists()
    assert staged_files() == before


def test_a_file_staged_before_a_demotion_to_viewer_cannot_be_scored(analyst_client, analyst):
    key = staged_key(stage(analyst_client))
    analyst.groups.set([Group.objects.get(name=VIEWER)])

    response = analyst_client.post(reverse("detection:upload_map", kwargs={"key": key}), mapping_post())

    assert response.status_code == 403
    assert not ScoringJob.objects.exists()


@pytest.mark.django_db
def test_anonymous_upload_page_sends_to_login(client):
    response = client.get(INDEX)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def job_for(user, organisation=None, **fields) -> ScoringJob:
    values = {"file_path": "jobs/x/upload.csv", "file_format": "csv", "original_name": "rows.csv"} | fields
    source = jobs.upload_source(organisation=organisation or default_organisation())
    return ScoringJob.objects.create(source=source, created_by=user, **values)


def test_job_page_shows_progress(analyst_client, analyst):
    job = job_for(analyst, status=ScoringJob.Status.RUNNING, total_rows=200, processed_rows=50)

    response = analyst_client.get(reverse("detection:upload_job", kwargs={"pk": job.pk}))

    content = response.content.decode()
    assert response.status_code == 200
    assert 'id="job-percent">25.0%<' in content
    assert f'ws-connect="/ws/jobs/{job.pk}/"' in content
    assert 'hx-trigger="every 2s' in content


def test_finished_job_stops_polling_and_offers_the_download(analyst_client, analyst):
    job = job_for(analyst, status=ScoringJob.Status.DONE, total_rows=10, processed_rows=10, created_rows=9)

    response = analyst_client.get(reverse("detection:upload_job_progress", kwargs={"pk": job.pk}))

    content = response.content.decode()
    assert response.status_code == 200
    assert "hx-trigger" not in content
    assert reverse("detection:upload_job_result", kwargs={"pk": job.pk}) in content


def test_another_analysts_job_is_not_found(analyst_client):
    job = job_for(UserFactory(username="carol"))

    response = analyst_client.get(reverse("detection:upload_job", kwargs={"pk": job.pk}))

    assert response.status_code == 404


def test_unfinished_job_has_no_result_yet(analyst_client, analyst):
    job = job_for(analyst, status=ScoringJob.Status.RUNNING)

    response = analyst_client.get(reverse("detection:upload_job_result", kwargs={"pk": job.pk}))

    assert response.status_code == 409


def test_uploaded_file_is_scored_end_to_end(analyst_client, analyst, active_model, django_capture_on_commit_callbacks):
    key = staged_key(stage(analyst_client, job_frame(12)))
    with django_capture_on_commit_callbacks():
        analyst_client.post(reverse("detection:upload_map", kwargs={"key": key}), mapping_post())
    job = ScoringJob.objects.get()

    jobs.scoring_job_split(job_id=job.pk)
    for chunk_id in job.chunks.values_list("pk", flat=True):
        jobs.scoring_job_chunk_run(chunk_id=chunk_id)
    response = analyst_client.get(reverse("detection:upload_job", kwargs={"pk": job.pk}))
    download = analyst_client.get(reverse("detection:upload_job_result", kwargs={"pk": job.pk}))

    job.refresh_from_db()
    assert response.status_code == 200 and download.status_code == 200
    assert (job.status, job.total_rows, job.created_rows, job.error_rows) == ("done", 12, 10, 2)
    assert [e["row"] for e in response.context["errors"]] == [3, 7]
    lines = b"".join(download.streaming_content).decode().splitlines()
    assert lines[0] == ",".join(RESULT_COLUMNS)
    assert len(lines) == 1 + 10


# ------------------------------------------------------------------ organisations

JOB_PAGES = ("detection:upload_job", "detection:upload_job_progress", "detection:upload_job_result")


def test_a_confirmed_mapping_scores_into_the_organisations_uploads_source(
    analyst_client, organisation, other_organisation, django_capture_on_commit_callbacks
):
    key = staged_key(stage(analyst_client))
    with django_capture_on_commit_callbacks():
        analyst_client.post(reverse("detection:upload_map", kwargs={"key": key}), mapping_post())

    source = ScoringJob.objects.select_related("source").get().source
    assert (source.organisation, source.name, source.kind) == (organisation, "uploads", "upload")


def test_another_organisations_job_is_not_found_even_by_those_who_see_every_job(other_admin_client, analyst):
    job = job_for(analyst, status=ScoringJob.Status.DONE, total_rows=1, processed_rows=1)

    for page in JOB_PAGES:
        assert other_admin_client.get(reverse(page, kwargs={"pk": job.pk})).status_code == 404, page


def test_another_organisations_analyst_gets_404_for_the_job_page_and_its_result(client, other_analyst, analyst):
    job = job_for(analyst, status=ScoringJob.Status.DONE, total_rows=1, processed_rows=1)
    client.force_login(other_analyst)

    for page in JOB_PAGES:
        assert client.get(reverse(page, kwargs={"pk": job.pk})).status_code == 404, page


def test_a_member_of_two_organisations_sees_a_job_only_while_working_in_its_organisation(
    client, organisation, other_organisation
):
    member = UserFactory(username="dora", roles=[ANALYST], organisations=[organisation, other_organisation])
    job = job_for(member, other_organisation, status=ScoringJob.Status.RUNNING, total_rows=10)
    client.force_login(member)
    url = reverse("detection:upload_job", kwargs={"pk": job.pk})

    work_in(client, organisation)
    assert client.get(url).status_code == 404
    assert job not in client.get(INDEX).context["jobs"]

    work_in(client, other_organisation)
    assert client.get(url).status_code == 200
    assert list(client.get(INDEX).context["jobs"]) == [job]


def test_a_person_of_no_organisation_may_not_upload(client, organisation):
    client.force_login(UserFactory(username="nemo", roles=[ANALYST], organisations=[]))

    assert client.get(INDEX).status_code == 403


def labelled_job_frame(rows: int = 200):
    frame = job_frame(rows, bad=False)
    frame["is_fraud"] = [int(n % 10 == 0) for n in range(rows)]
    frame["anomaly_type"] = frame["is_fraud"] * 3
    return frame


def test_an_upload_column_that_gives_the_label_away_is_refused_naming_it(analyst_client):
    key = staged_key(stage(analyst_client, labelled_job_frame()))

    response = analyst_client.post(
        reverse("detection:upload_map", kwargs={"key": key}),
        mapping_post({"label_column": "is_fraud", "attributes": ["anomaly_type", "transaction_count_1h"]}),
    )

    assert response.status_code == 200
    (error,) = response.context["form"].errors["attributes"]
    assert error.startswith("Column 'anomaly_type' predicts the label 'is_fraud' almost perfectly")
    assert not ScoringJob.objects.exists()


def test_without_a_label_column_no_extra_column_is_refused(analyst_client):
    key = staged_key(stage(analyst_client, labelled_job_frame()))

    response = analyst_client.post(
        reverse("detection:upload_map", kwargs={"key": key}), mapping_post({"attributes": ["anomaly_type"]})
    )

    assert response.status_code == 302
    assert ScoringJob.objects.get().attributes == ["anomaly_type"]
