"""detection.staging: the two steps the uploads and backtests pages share, exercised through both pages."""

from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from detection.models import BacktestRun, ScoringJob
from detection.staging.selectors import staged_upload_get
from detection.staging.services import MAX_STAGED, SESSION_KEY

HEADER = "tx_id,tx_datetime,customer_id,tx_amount,tx_fraud\n"
ROWS = "".join(f"t-{n},2026-02-0{1 + n % 5} 10:00:00,c-{n % 3},{10 + n}.50,{n % 2}\n" for n in range(8))
MAPPING = {"transaction_id": "tx_id", "timestamp": "tx_datetime", "account_id": "customer_id", "amount": "tx_amount"}
REPLAY = {"train_days": 1, "delay_days": 0, "test_days": 1, "folds": 1, "feedback": "none"}
REPLAY |= {"reviews_per_day": 5, "label_delay_days": 0, "seed": 0}


@dataclass(frozen=True)
class Use:
    index: str  # the page with the upload form
    mapping: str  # the staged file's page
    made: type  # what a confirmed mapping makes
    made_view: str
    extra: dict  # what the page's form needs besides the mapping

    def post(self) -> dict:
        return {f"map_{name}": column for name, column in MAPPING.items()} | {"label_column": "tx_fraud"} | self.extra


UPLOADS = Use("detection:uploads", "detection:upload_map", ScoringJob, "detection:upload_job", {})
BACKTESTS = Use("detection:backtests", "detection:backtest_setup", BacktestRun, "detection:backtest", REPLAY)
USES = pytest.mark.parametrize("use", [UPLOADS, BACKTESTS], ids=["uploads", "backtests"])


def stage(client, use: Use, content: str | bytes = HEADER + ROWS, name: str = "rows.csv"):
    data = content.encode() if isinstance(content, str) else content
    return client.post(reverse(use.index), {"file": SimpleUploadedFile(name, data)})


def key_of(response) -> str:
    return response["Location"].rstrip("/").split("/")[-2]


def staged_dir(client, key: str) -> Path:
    return staged_upload_get(session=client.session, key=key).absolute.parent


@USES
def test_a_staged_file_is_sent_to_its_own_pages_mapping(analyst_client, use):
    response = stage(analyst_client, use)

    assert response.status_code == 302
    assert response["Location"] == reverse(use.mapping, kwargs={"key": key_of(response)})


@USES
def test_the_mapping_page_previews_the_file_and_guesses_the_mapping(analyst_client, use):
    key = key_of(stage(analyst_client, use))

    response = analyst_client.get(reverse(use.mapping, kwargs={"key": key}))

    form = response.context["form"]
    assert response.status_code == 200
    assert response.context["staged"].columns == HEADER.strip().split(",")
    assert response.context["preview"][0] == ROWS.splitlines()[0].split(",")
    assert len(response.context["preview"]) == 5
    assert {name: form[f"map_{name}"].initial for name in MAPPING} == MAPPING
    assert form["label_column"].initial == "tx_fraud"


@USES
def test_rows_that_cannot_be_previewed_leave_the_mapping_page_without_a_preview(analyst_client, use):
    key = key_of(stage(analyst_client, use, content=HEADER + ROWS.splitlines()[0] + "\na,b,c,d,e,f,g\n"))

    response = analyst_client.get(reverse(use.mapping, kwargs={"key": key}))

    assert response.status_code == 200
    assert response.context["preview"] == []


@USES
def test_an_unreadable_file_is_refused_and_nothing_is_kept(analyst_client, use):
    not_utf8 = stage(analyst_client, use, content=b"\x00\xff\x00")
    not_parquet = stage(analyst_client, use, content=b"\x00\xff\x00", name="rows.parquet")

    assert (not_utf8.status_code, not_parquet.status_code) == (200, 200)
    assert "The file is not UTF-8 text: byte 1 (line 1)" in not_utf8.content.decode()
    assert "could not be read as Parquet" in not_parquet.content.decode()
    assert analyst_client.session.get(SESSION_KEY, []) == []


@USES
def test_a_confirmed_mapping_makes_the_pages_work_and_discards_the_staged_file(analyst_client, analyst, use):
    key = key_of(stage(analyst_client, use))
    folder = staged_dir(analyst_client, key)

    response = analyst_client.post(reverse(use.mapping, kwargs={"key": key}), use.post())

    made = use.made.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(use.made_view, kwargs={"pk": made.pk})
    assert (made.created_by, made.mapping, made.label_column) == (analyst, MAPPING, "tx_fraud")
    assert staged_upload_get(session=analyst_client.session, key=key) is None
    assert not folder.exists()


@USES
def test_an_invalid_mapping_keeps_the_staged_file(analyst_client, use):
    key = key_of(stage(analyst_client, use))

    response = analyst_client.post(reverse(use.mapping, kwargs={"key": key}), use.post() | {"map_amount": ""})

    assert response.status_code == 200
    assert response.context["form"].errors["map_amount"]
    assert not use.made.objects.exists()
    assert staged_upload_get(session=analyst_client.session, key=key) is not None


def test_a_refusal_by_the_job_keeps_the_staged_file_and_shows_why(analyst_client, monkeypatch):
    from detection.jobs import services as jobs

    def refuse(**kwargs):
        raise jobs.JobInputError("mapping", "The file changed under us.")

    monkeypatch.setattr(jobs, "scoring_job_create", refuse)
    key = key_of(stage(analyst_client, UPLOADS))

    response = analyst_client.post(reverse(UPLOADS.mapping, kwargs={"key": key}), UPLOADS.post())

    assert response.status_code == 200
    assert "The file changed under us." in response.content.decode()
    assert staged_upload_get(session=analyst_client.session, key=key) is not None


@USES
def test_another_persons_staged_file_is_not_found(analyst_client, second_analyst, use):
    key = key_of(stage(analyst_client, use))
    other = Client()
    other.force_login(second_analyst)

    assert other.get(reverse(use.mapping, kwargs={"key": key})).status_code == 404
    assert other.post(reverse(use.mapping, kwargs={"key": key}), use.post()).status_code == 404
    assert not use.made.objects.exists()


@USES
def test_a_staged_file_whose_folder_is_gone_is_not_found(analyst_client, use):
    key = key_of(stage(analyst_client, use))
    for path in sorted(staged_dir(analyst_client, key).iterdir()):
        path.unlink()

    assert analyst_client.get(reverse(use.mapping, kwargs={"key": key})).status_code == 404


@USES
def test_only_the_newest_staged_files_are_kept(analyst_client, use):
    keys = [key_of(stage(analyst_client, use)) for _ in range(MAX_STAGED + 1)]

    kept = [entry["key"] for entry in analyst_client.session[SESSION_KEY]]
    assert kept == keys[1:]
    assert not (Path(settings.MEDIA_ROOT) / "staged" / keys[0]).exists()


@USES
def test_people_who_may_not_upload_are_refused_both_steps(client, viewer, use):
    client.force_login(viewer)

    assert client.get(reverse(use.index)).status_code == 403
    assert stage(client, use).status_code == 403
    assert client.get(reverse(use.mapping, kwargs={"key": "0" * 32})).status_code == 403
