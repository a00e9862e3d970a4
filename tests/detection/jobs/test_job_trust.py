"""Jobs and uploads trusted with untrusted files (issue #22): what would fail a job is refused before the 202 (and
before a page makes the job), one size limit for every upload, formula cells neutralised in the results, and one
rule for who reads a job however the caller comes (the pages, the API with a session or a token)."""

import csv
import io
import json

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.services import ANALYST, VIEWER
from detection.models import ScoringJob
from tests.detection.jobs.jobs_data import MAPPING, csv_upload, job_frame
from tests.detection.jobs.test_jobs import run_job, upload
from tests.factories import BacktestRunFactory, UserFactory, default_organisation
from transactions.models import Source
from transactions.services import source_get_or_create

API = "/api/v1/jobs"
UPLOADS = reverse("detection:uploads")
BACKTESTS = reverse("detection:backtests")


def lines_of(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture(autouse=True)
def own_media(settings, tmp_path):
    """This module's files apart from every other run's, so "nothing kept" can be seen."""
    settings.MEDIA_ROOT = tmp_path


def staged_dirs(settings) -> list:
    return sorted((settings.MEDIA_ROOT / "staged").glob("*/*"))


# ---------------------------------------------------------------- files refused before the 202


def test_a_file_with_no_column_for_a_required_field_is_refused_before_the_202(scorer):
    response = scorer.post(API, {"file": SimpleUploadedFile("x.csv", b"colour,size\nred,3\n")}, format="multipart")

    assert response.status_code == 400, response.content
    [error] = response.json()["errors"]
    assert error["field"] == "mapping"
    assert error["reason"].startswith("no column for the required field 'transaction_id'")
    assert not ScoringJob.objects.exists()


def test_a_file_that_is_not_utf8_is_refused_before_the_202_naming_the_byte(scorer):
    content = job_frame(3, bad=False).to_csv(index=False).encode() + b"J9,2026-03-11 00:00:00,caf\xe9,1\n"

    response = upload(scorer, SimpleUploadedFile("rows.csv", content))

    assert response.status_code == 400, response.content
    [error] = response.json()["errors"]
    assert error["field"] == "file"
    assert "(line 5) is not valid UTF-8" in error["reason"]
    assert not ScoringJob.objects.exists()


@pytest.mark.parametrize("page", [UPLOADS, BACKTESTS])
def test_a_page_upload_that_is_not_utf8_is_refused_before_its_mapping(analyst_client, settings, page):
    response = analyst_client.post(page, {"file": SimpleUploadedFile("rows.csv", b"transaction_id\nt\xff1\n")})

    assert response.status_code == 200
    assert "byte 16 (line 2) is not valid UTF-8" in response.context["form"].errors["file"][0]
    assert staged_dirs(settings) == []


# ---------------------------------------------------------------- one size limit


def limit_message(limit: int) -> str:
    return f"The file is larger than the upload limit of {limit:,} bytes (FILE_UPLOAD_MAX_BYTES)."


@pytest.mark.parametrize("size", [1_001, 200_000])  # read and measured; refused from its Content-Length alone
def test_an_api_upload_past_the_limit_is_a_413_naming_it(scorer, settings, size):
    settings.FILE_UPLOAD_MAX_BYTES = 1_000

    response = upload(scorer, SimpleUploadedFile("rows.csv", b"x" * size))

    assert response.status_code == 413, response.content
    assert response.json()["errors"] == [{"field": "file", "reason": limit_message(1_000), "code": "too_large"}]
    assert not ScoringJob.objects.exists()


@pytest.mark.parametrize("page", [UPLOADS, BACKTESTS])
@pytest.mark.parametrize("size", [1_001, 200_000])
def test_a_page_upload_past_the_limit_is_refused_naming_it(analyst_client, settings, page, size):
    settings.FILE_UPLOAD_MAX_BYTES = 1_000

    response = analyst_client.post(page, {"file": SimpleUploadedFile("rows.csv", b"x" * size)})

    assert response.status_code in (200, 413)
    assert response.context["form"].errors["file"] == [limit_message(1_000)]
    assert staged_dirs(settings) == []


def test_a_file_at_the_limit_is_taken(scorer, settings, active_model):
    content = job_frame(3, bad=False).to_csv(index=False).encode()
    settings.FILE_UPLOAD_MAX_BYTES = len(content)

    assert upload(scorer, SimpleUploadedFile("rows.csv", content)).status_code == 202


# ---------------------------------------------------------------- results are safe to open


FORMULAS = ['=HYPERLINK("http://evil/","click")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3", "=1+1"]


def test_job_results_neutralise_formula_cells_over_the_api_and_the_page(client, active_model):
    analyst = UserFactory(username="alice", roles=[ANALYST])
    client.force_login(analyst)
    frame = job_frame(len(FORMULAS) + 1, bad=False)
    frame["transaction_id"] = [*FORMULAS, "-2.5"]
    response = client.post(API, {"file": csv_upload(frame), "mapping": json.dumps(MAPPING)})
    assert response.status_code == 202, response.content
    job = run_job(response.json()["id"])

    through_api = lines_of(client.get(f"{API}/{job.pk}/result.csv"))
    through_page = lines_of(client.get(reverse("detection:upload_job_result", kwargs={"pk": job.pk})))

    assert through_api == through_page
    assert [row[1] for row in through_api[1:]] == [*("'" + cell for cell in FORMULAS), "-2.5"]


# ---------------------------------------------------------------- one rule for who reads a job


def job_of(user=None, *, source=None, token=None) -> ScoringJob:
    return ScoringJob.objects.create(
        source=source or _uploads_source(),
        created_by=user,
        token=token,
        file_path="jobs/x/upload.csv",
        file_format="csv",
        original_name="rows.csv",
        status=ScoringJob.Status.DONE,
    )


def session(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def reads(client, job: ScoringJob) -> dict[str, int]:
    """Every way to read a job, and what each answers."""
    return {
        "api": client.get(f"{API}/{job.pk}").status_code,
        "api_result": client.get(f"{API}/{job.pk}/result.csv").status_code,
        "page": client.get(reverse("detection:upload_job", kwargs={"pk": job.pk})).status_code,
        "page_progress": client.get(reverse("detection:upload_job_progress", kwargs={"pk": job.pk})).status_code,
        "page_result": client.get(reverse("detection:upload_job_result", kwargs={"pk": job.pk})).status_code,
    }


def everywhere(status: int) -> dict[str, int]:
    return dict.fromkeys(("api", "api_result", "page", "page_progress", "page_result"), status)


def test_the_author_reads_their_job_every_way(analyst):
    assert reads(session(analyst), job_of(analyst)) == everywhere(200)


def test_another_analysts_job_is_404_through_the_api_as_on_the_page(analyst, second_analyst):
    assert reads(session(second_analyst), job_of(analyst)) == everywhere(404)


def test_a_viewer_is_refused_every_job_through_the_api_as_on_the_page(analyst, viewer):
    assert reads(session(viewer), job_of(analyst)) == everywhere(403)


def test_an_admin_reads_every_job_every_way(analyst, admin_user):
    assert reads(session(admin_user), job_of(analyst)) == everywhere(200)


def test_a_partner_token_reads_its_own_sources_jobs_and_no_one_elses(scorer, other_partner, analyst):
    own = job_of(source=scorer.token.source, token=scorer.token)
    partners = job_of(source=other_partner.token.source, token=other_partner.token)
    peoples = job_of(analyst)

    answers = {
        name: (scorer.get(f"{API}/{job.pk}").status_code, scorer.get(f"{API}/{job.pk}/result.csv").status_code)
        for name, job in {"own": own, "partners": partners, "peoples": peoples}.items()
    }

    assert answers == {"own": (200, 200), "partners": (404, 404), "peoples": (404, 404)}


def test_a_token_is_refused_the_upload_pages(scorer, analyst):
    job = job_of(analyst)
    pages = Client(HTTP_AUTHORIZATION=scorer._credentials["HTTP_AUTHORIZATION"])

    response = pages.get(reverse("detection:upload_job_result", kwargs={"pk": job.pk}))

    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_backtest_is_read_by_its_author_and_admins_only(analyst, second_analyst, viewer, admin_user):
    run = BacktestRunFactory(created_by=analyst)
    url = reverse("detection:backtest", kwargs={"pk": run.pk})

    answers = {user.username: session(user).get(url).status_code for user in (analyst, second_analyst, viewer)}
    answers["root"] = session(admin_user).get(url).status_code

    assert answers == {"alice": 200, "bob": 404, "victor": 403, "root": 200}


def test_a_person_made_a_viewer_loses_their_own_jobs_every_way(analyst):
    job = job_of(analyst)
    analyst.groups.set([Group.objects.get(name=VIEWER)])

    assert reads(session(analyst), job) == everywhere(403)


def _uploads_source():
    return source_get_or_create(organisation=default_organisation(), name="uploads", kind=Source.Kind.UPLOAD)
