"""Bulk scoring jobs through the API, with the task bodies run in this process (the worker test runs them for real)."""

import asyncio
import csv
import io
import json

import pytest
from django.db import transaction as db_transaction

from detection.jobs import services as jobs
from detection.jobs.tasks import scoring_job_chunk_task, scoring_job_split_task
from detection.models import ModelVersion, Score, ScoringJob, ScoringJobChunk
from detection.scoring import registry
from detection.scoring.services import ModelUnloadable, score_transactions
from tests.detection.jobs.jobs_data import BAD_ROWS, MAPPING, csv_upload, job_frame, parquet_upload
from transactions.models import Transaction
from transactions.services import transactions_import_file

URL = "/api/v1/jobs"


def upload(api, file, mapping=MAPPING, **fields):
    data = {"file": file, "mapping": json.dumps(mapping)} | fields
    return api.post(URL, data, format="multipart")


def run_job(job_id: int) -> ScoringJob:
    """What the workers do: split, store every chunk (the last one stored is scored at once), score the others."""
    scoring_job_split_task(job_id)
    chunk_ids = list(ScoringJobChunk.objects.filter(job_id=job_id).values_list("pk", flat=True))
    for chunk_id in chunk_ids:
        scoring_job_chunk_task(chunk_id)
    for chunk_id in chunk_ids:
        scoring_job_chunk_task(chunk_id, "score")
    return ScoringJob.objects.get(pk=job_id)


@pytest.fixture
def small_chunks(settings):
    settings.JOB_CHUNK_ROWS = 10


def test_an_upload_is_stored_and_answered_202_with_the_job(scorer, active_model, settings):
    response = upload(scorer, csv_upload(job_frame(25)), attributes=json.dumps(["transaction_count_1h"]))

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "pending"
    assert response["Location"] == f"/api/v1/jobs/{body['id']}"
    job = ScoringJob.objects.get(pk=body["id"])
    assert (job.source, job.token, job.file_format) == (scorer.token.source, scorer.token, "csv")
    assert (settings.MEDIA_ROOT / job.file_path).is_file()
    assert job.attributes == ["transaction_count_1h"]


def test_a_mixed_file_stores_every_valid_row_and_reports_each_bad_row_with_its_field(
    scorer, active_model, small_chunks
):
    job_id = upload(scorer, csv_upload(job_frame(25))).json()["id"]

    job = run_job(job_id)

    assert (job.status, job.total_rows, job.processed_rows, job.chunk_count) == ("done", 25, 25, 3)
    assert (job.created_rows, job.error_rows) == (23, 2)
    assert Transaction.objects.filter(source=scorer.token.source).count() == 23
    assert Score.objects.filter(transaction__source=scorer.token.source).count() == 23
    errors = scorer.get(f"{URL}/{job_id}").json()["errors"]
    assert [(e["row"], e["field"], e["reason"]) for e in errors] == [(row, *BAD_ROWS[row]) for row in sorted(BAD_ROWS)]


def test_a_parquet_file_is_scored_with_its_attributes(scorer, active_model):
    mapping = MAPPING | {"channel": "is_online"}
    frame = job_frame(12, bad=False)
    job_id = upload(scorer, parquet_upload(frame), mapping=mapping, attributes=json.dumps(["*"])).json()["id"]

    job = run_job(job_id)

    assert (job.status, job.created_rows, job.error_rows) == ("done", 12, 0)
    stored = Transaction.objects.get(source=scorer.token.source, transaction_id="J0000002")
    assert stored.attributes["transaction_count_1h"] == 1
    assert stored.channel == "online"


def test_storing_a_chunk_again_stores_nothing_twice(scorer, active_model, small_chunks):
    job_id = upload(scorer, csv_upload(job_frame(25))).json()["id"]
    run_job(job_id)
    chunk = ScoringJobChunk.objects.filter(job_id=job_id).first()
    ScoringJob.objects.filter(pk=job_id).update(status="running", phase="ingesting")

    ScoringJobChunk.objects.filter(pk=chunk.pk).update(status=ScoringJobChunk.Status.PENDING)
    assert jobs.scoring_job_chunk_run(chunk_id=chunk.pk) == "done"  # every chunk is stored: scored at once

    chunk.refresh_from_db()
    assert (chunk.status, chunk.created_rows, chunk.existing_rows) == ("done", 0, 8)
    assert Transaction.objects.filter(source=scorer.token.source).count() == 23
    assert Score.objects.filter(transaction__source=scorer.token.source).count() == 23


def test_scoring_a_chunk_again_scores_nothing_twice(scorer, active_model, small_chunks):
    job_id = upload(scorer, csv_upload(job_frame(25))).json()["id"]
    run_job(job_id)
    chunk = ScoringJobChunk.objects.filter(job_id=job_id).first()
    ScoringJob.objects.filter(pk=job_id).update(status="running")

    ScoringJobChunk.objects.filter(pk=chunk.pk).update(status=ScoringJobChunk.Status.STORED)
    assert jobs.scoring_job_chunk_run(chunk_id=chunk.pk, phase="score") == "done"

    assert Score.objects.filter(transaction__source=scorer.token.source).count() == 23
    assert ScoringJob.objects.get(pk=job_id).status == "done"


def test_no_chunk_is_scored_until_every_chunk_is_stored(scorer, active_model, small_chunks):
    job_id = upload(scorer, csv_upload(job_frame(25))).json()["id"]
    scoring_job_split_task(job_id)
    first, *others = ScoringJobChunk.objects.filter(job_id=job_id).order_by("index")

    assert jobs.scoring_job_chunk_run(chunk_id=first.pk) == "stored"
    assert jobs.scoring_job_chunk_run(chunk_id=first.pk, phase="score") == "skipped"

    job = ScoringJob.objects.get(pk=job_id)
    assert (job.phase, job.stored_rows, job.processed_rows) == ("ingesting", 10, 0)
    assert not Score.objects.filter(transaction__source=scorer.token.source).exists()
    for chunk in others:
        jobs.scoring_job_chunk_run(chunk_id=chunk.pk)
    assert ScoringJob.objects.get(pk=job_id).phase == "scoring"


def test_scores_do_not_depend_on_the_order_in_which_chunks_run(scorer, active_model, settings, tmp_path):
    settings.JOB_CHUNK_ROWS = 40
    frame = job_frame(120, bad=False)  # each of the 20 accounts has rows in all three chunks
    expected = scores_of_rows_stored_at_once(scorer.token.source, frame, tmp_path / "rows.csv")
    job_id = upload(scorer, csv_upload(frame)).json()["id"]
    scoring_job_split_task(job_id)
    last_first = list(ScoringJobChunk.objects.filter(job_id=job_id).order_by("-index").values_list("pk", flat=True))

    for chunk_id in last_first:
        scoring_job_chunk_task(chunk_id)  # the first chunk, stored last, is scored first
    for chunk_id in last_first:
        scoring_job_chunk_task(chunk_id, "score")

    assert ScoringJob.objects.get(pk=job_id).status == "done"
    scored = Score.objects.filter(transaction__source=scorer.token.source)
    assert dict(scored.values_list("transaction__transaction_id", "score")) == expected


def scores_of_rows_stored_at_once(source, frame, path) -> dict[str, float]:
    """The reference: the same rows stored in one go, then scored together; undone afterwards."""
    frame.to_csv(path, index=False)
    with db_transaction.atomic():
        transactions_import_file(source=source, path=path, mapping=MAPPING, workers=1)
        stored = list(Transaction.objects.filter(source=source))
        expected = {s.transaction.transaction_id: s.score for s in score_transactions(transactions=stored)}
        db_transaction.set_rollback(True)
    assert len(expected) == len(frame)
    return expected


def test_a_chunk_held_by_a_live_worker_is_not_taken(scorer, active_model, small_chunks):
    job_id = upload(scorer, csv_upload(job_frame(25))).json()["id"]
    scoring_job_split_task(job_id)
    chunk = ScoringJobChunk.objects.filter(job_id=job_id).first()
    assert jobs.scoring_job_chunk_claim(chunk_id=chunk.pk) is not None

    with pytest.raises(jobs.ChunkBusy):
        jobs.scoring_job_chunk_run(chunk_id=chunk.pk)
    assert not Transaction.objects.filter(source=scorer.token.source).exists()


def test_a_chunk_whose_lease_ran_out_is_taken_over(scorer, active_model, small_chunks, settings):
    job_id = upload(scorer, csv_upload(job_frame(25))).json()["id"]
    scoring_job_split_task(job_id)
    chunk = ScoringJobChunk.objects.filter(job_id=job_id).first()
    jobs.scoring_job_chunk_claim(chunk_id=chunk.pk)
    settings.JOB_CHUNK_LEASE_SECONDS = -1

    assert jobs.scoring_job_chunk_run(chunk_id=chunk.pk) == "stored"
    chunk.refresh_from_db()
    assert (chunk.status, chunk.attempts) == ("stored", 2)


def test_the_result_csv_lists_every_scored_row_in_file_order(scorer, active_model, small_chunks):
    job_id = upload(scorer, csv_upload(job_frame(25))).json()["id"]
    run_job(job_id)

    response = scorer.get(f"{URL}/{job_id}/result.csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [int(r["row"]) for r in rows] == [n for n in range(1, 26) if n not in BAD_ROWS]
    assert rows[0]["transaction_id"] == "J0000001"
    assert 0 <= float(rows[0]["score"]) <= 1
    assert rows[0]["model_version"] == str(active_model.version)


def test_the_result_of_an_unfinished_job_is_a_409(scorer, active_model):
    job_id = upload(scorer, csv_upload(job_frame(5))).json()["id"]

    response = scorer.get(f"{URL}/{job_id}/result.csv")

    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "not_finished"


def test_a_mapping_naming_a_missing_column_is_refused_and_nothing_is_kept(scorer, active_model, settings):
    response = upload(scorer, csv_upload(job_frame(5)), mapping=MAPPING | {"account_id": "customer"})

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["field"] == "mapping"
    assert "customer" in error["reason"]
    assert not ScoringJob.objects.exists()


def test_without_a_mapping_the_columns_are_guessed(scorer, active_model):
    response = scorer.post(URL, {"file": csv_upload(job_frame(5))}, format="multipart")

    assert response.status_code == 202
    assert response.json()["mapping"]["account_id"] == "user_id"


def test_a_file_that_is_neither_csv_nor_parquet_is_refused(scorer, active_model):
    response = upload(scorer, csv_upload(job_frame(5), name="rows.xlsx"))

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "file"


def test_an_upload_over_the_size_limit_is_refused_with_413(scorer, active_model, settings):
    settings.FILE_UPLOAD_MAX_BYTES = 100
    response = upload(scorer, csv_upload(job_frame(25)))

    assert response.status_code == 413
    assert not ScoringJob.objects.exists()


def test_another_partner_cannot_see_the_job_or_its_result(scorer, other_partner, active_model):
    job_id = upload(scorer, csv_upload(job_frame(5))).json()["id"]

    assert other_partner.get(f"{URL}/{job_id}").status_code == 404
    assert other_partner.get(f"{URL}/{job_id}/result.csv").status_code == 404


def test_a_token_without_the_score_scope_cannot_upload(make_partner, active_model):
    response = upload(make_partner("read"), csv_upload(job_frame(5)))

    assert response.status_code == 403
    assert not ScoringJob.objects.exists()


def test_a_revoked_token_cannot_upload_or_read_jobs(revoked_client, active_model):
    assert upload(revoked_client, csv_upload(job_frame(5))).status_code == 401
    assert revoked_client.get(f"{URL}/1").status_code == 401


def test_an_outsider_cannot_upload(outsider_client, active_model):
    response = outsider_client.post(URL, {"file": csv_upload(job_frame(5))})

    assert response.status_code == 403
    assert not ScoringJob.objects.exists()


def test_progress_is_published_to_the_jobs_channel_group(scorer, active_model, small_chunks):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    job_id = upload(scorer, csv_upload(job_frame(25))).json()["id"]
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"job_{job_id}", channel)

    run_job(job_id)

    async def receive_until_done():  # one event loop for all receives, as a consumer has
        messages = [await layer.receive(channel)]
        while messages[-1]["job"]["status"] != "done":
            messages.append(await asyncio.wait_for(layer.receive(channel), timeout=5))
        return messages

    messages = async_to_sync(receive_until_done)()
    assert all(m["type"] == "job.progress" for m in messages)
    stored = [m["job"]["stored_rows"] for m in messages if m["job"]["phase"] == "ingesting"]
    assert stored[-1] == 25
    assert [m["job"]["phase"] for m in messages].count("scoring") >= 3  # the move, then each chunk scored
    assert messages[-1]["job"]["processed_rows"] == 25


def test_a_job_whose_active_model_this_release_cannot_read_fails_saying_why(scorer, unreadable_active_model):
    job_id = upload(scorer, csv_upload(job_frame(12, bad=False))).json()["id"]

    with pytest.raises(ModelUnloadable):
        run_job(job_id)

    job = ScoringJob.objects.get(pk=job_id)
    assert job.status == "failed"
    assert job.error.startswith("Model version 9 is active but cannot be loaded (model artifact format 999")
    assert scorer.get(f"{URL}/{job_id}").json()["error"] == job.error


# ------------------------------------------------------------------ organisations


def test_a_partner_of_another_organisation_gets_404_for_the_job_and_its_result(
    scorer, other_partner_client, active_model, small_chunks
):
    job_id = upload(scorer, csv_upload(job_frame(25))).json()["id"]
    run_job(job_id)

    assert other_partner_client.get(f"{URL}/{job_id}").status_code == 404
    assert other_partner_client.get(f"{URL}/{job_id}/result.csv").status_code == 404


def test_a_person_of_another_organisation_who_sees_every_job_gets_404(scorer, other_admin_client, active_model):
    job_id = upload(scorer, csv_upload(job_frame(5))).json()["id"]

    assert other_admin_client.get(f"{URL}/{job_id}").status_code == 404
    assert other_admin_client.get(f"{URL}/{job_id}/result.csv").status_code == 404


def test_a_persons_upload_scores_into_their_organisations_uploads_source(analyst_client, organisation, active_model):
    response = upload(analyst_client, csv_upload(job_frame(5)))

    assert response.status_code == 202, response.content
    job = ScoringJob.objects.select_related("source").get(pk=response.json()["id"])
    assert (job.source.name, job.source.kind, job.source.organisation) == ("uploads", "upload", organisation)
    assert analyst_client.get(f"{URL}/{job.pk}").status_code == 200


def test_a_job_is_stored_and_scored_within_its_organisation_only(
    scorer, other_partner_client, other_organisation, active_model, trained_model
):
    theirs = ModelVersion.objects.create(
        organisation=other_organisation, version=2, status=ModelVersion.Status.ACTIVE, **trained_model
    )
    registry.active_model_changed()
    ours = run_job(upload(scorer, csv_upload(job_frame(12, bad=False))).json()["id"])

    job = run_job(upload(other_partner_client, csv_upload(job_frame(12, bad=False))).json()["id"])

    assert (ours.created_rows, job.created_rows, job.existing_rows) == (12, 12, 0)  # the same ids, not duplicates
    scored = Score.objects.filter(transaction__source=other_partner_client.token.source)
    assert set(scored.values_list("model_version", flat=True)) == {theirs.pk}
    assert scored.count() == 12
    result = other_partner_client.get(f"{URL}/{job.pk}/result.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(result.streaming_content).decode())))
    assert {row["model_version"] for row in rows} == {"2"}


def test_the_job_rows_gauge_names_each_jobs_organisation(scorer, other_partner_client, active_model):
    from detection.jobs.selectors import job_rows_gauge

    ours = upload(scorer, csv_upload(job_frame(5))).json()["id"]
    theirs = upload(other_partner_client, csv_upload(job_frame(5))).json()["id"]

    (family,) = job_rows_gauge()

    totals = {(s.labels["organisation"], s.labels["job"]) for s in family.samples if s.labels["state"] == "total"}
    assert totals == {("test-org", str(ours)), ("other-org", str(theirs))}
