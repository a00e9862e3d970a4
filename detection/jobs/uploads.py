"""Uploads for people: stage a CSV/Parquet file, map its columns (guessed from the header, editable), score it as
a background job (detection.jobs.services), follow its progress live, read its summary and download the scored file.

A staged file waits under MEDIA_ROOT/staged/<key>/ until its mapping is confirmed; the session remembers which
keys are this person's, so nobody else can map or read them. Jobs are started, listed and opened within the
request's organisation, into its "uploads" source; another organisation's job is a 404.
"""

import re
import shutil
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_http_methods

from core.csv_stream import csv_response
from detection.jobs import services as jobs
from detection.jobs.forms import MappingForm, UploadForm
from detection.jobs.selectors import scoring_job_visible, scoring_jobs_visible
from detection.models import ScoringJob
from transactions.files import PARQUET_SUFFIXES, file_columns, guess_label_column, guess_mapping
from transactions.validation import CANONICAL_FIELDS, REQUIRED

UPLOAD_PERM = "transactions.upload_transactions"
SESSION_KEY = "detection_staged_uploads"
STAGED_DIR = "staged"
MAX_STAGED = 5
PREVIEW_ROWS = 5
RECENT_JOBS = 20
MAX_ERRORS_SHOWN = 100


@dataclass(frozen=True)
class StagedUpload:
    key: str
    name: str
    path: str  # relative to MEDIA_ROOT
    columns: list[str]

    @property
    def absolute(self) -> Path:
        return Path(settings.MEDIA_ROOT) / self.path


class UnreadableFile(ValueError):
    pass


# ------------------------------------------------------------------ staging


def upload_stage(*, session, upload) -> StagedUpload:
    """Keep the file and read its header; the session holds the newest MAX_STAGED staged files of this person."""
    key = uuid.uuid4().hex
    suffix = Path(upload.name).suffix.lower()
    relative = f"{STAGED_DIR}/{key}/upload{suffix}"
    target = Path(settings.MEDIA_ROOT) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        for piece in upload.chunks():
            out.write(piece)
    try:
        columns = [str(c) for c in file_columns(target)]
    except Exception as exc:  # noqa: BLE001 - any reader failure means the file is not what it claims
        shutil.rmtree(target.parent, ignore_errors=True)
        raise UnreadableFile(f"The file could not be read as CSV or Parquet ({type(exc).__name__}).") from exc
    staged = StagedUpload(key=key, name=Path(upload.name).name[:255], path=relative, columns=columns)
    entries = [*session.get(SESSION_KEY, []), asdict(staged)]
    for old in entries[:-MAX_STAGED]:
        _remove_staged_file(old["path"])
    session[SESSION_KEY] = entries[-MAX_STAGED:]
    return staged


def upload_form_handle(request, *, next_view: str):
    """The upload form of a page: on a valid POST, stage the file and redirect to `next_view` with its key.

    Returns the form (bound, with the file's error if it could not be read) and the redirect, or None.
    """
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            staged = upload_stage(session=request.session, upload=form.cleaned_data["file"])
        except UnreadableFile as exc:
            form.add_error("file", str(exc))
        else:
            return form, redirect(next_view, key=staged.key)
    return form, None


def staged_get(session, key: str) -> StagedUpload | None:
    entry = next((e for e in session.get(SESSION_KEY, []) if e["key"] == key), None)
    return StagedUpload(**entry) if entry else None


def staged_discard(session, key: str) -> None:
    entries = session.get(SESSION_KEY, [])
    for entry in entries:
        if entry["key"] == key:
            _remove_staged_file(entry["path"])
    session[SESSION_KEY] = [e for e in entries if e["key"] != key]


def _remove_staged_file(relative: str) -> None:
    shutil.rmtree((Path(settings.MEDIA_ROOT) / relative).parent, ignore_errors=True)


def staged_preview(staged: StagedUpload) -> list[list[str]]:
    """The first rows of the file, as text, to help map its columns."""
    path = staged.absolute
    if path.suffix in PARQUET_SUFFIXES:
        batch = next(pq.ParquetFile(path).iter_batches(batch_size=PREVIEW_ROWS), None)
        frame = batch.to_pandas() if batch is not None else pd.DataFrame(columns=staged.columns)
    else:
        frame = pd.read_csv(path, nrows=PREVIEW_ROWS, dtype=str, keep_default_na=False)
    return frame.head(PREVIEW_ROWS).astype(str).to_numpy().tolist()


def mapping_form(staged: StagedUpload, data=None) -> MappingForm:
    return MappingForm(
        data,
        columns=staged.columns,
        fields=CANONICAL_FIELDS,
        required=REQUIRED,
        guess=guess_mapping(staged.columns),
        label_guess=guess_label_column(staged.columns),
    )


# ------------------------------------------------------------------ access


def _require_uploader(request) -> None:
    """People who may upload, working in an organisation (a user of none has nowhere to score into)."""
    if not request.user.has_perm(UPLOAD_PERM) or request.organisation is None:
        raise PermissionDenied


def job_visible(user, organisation_id: int | None, job_id: int) -> ScoringJob | None:
    """The job if this person may follow it within the organisation they work in: their own, or anyone's there
    for those who may see every job."""
    if not (user and user.is_authenticated and user.is_active and user.has_perm(UPLOAD_PERM)):
        return None
    return scoring_job_visible(organisation_id=organisation_id, job_id=job_id, user=user)


def _get_job_for_user(request, pk: int) -> ScoringJob:
    _require_uploader(request)
    job = job_visible(request.user, request.organisation.pk, pk)
    if job is None:
        raise Http404("No such job.")
    return job


def job_context(job: ScoringJob) -> dict:
    done = job.status == ScoringJob.Status.DONE
    return {
        "job": job,
        "unfinished": job.status in ScoringJob.UNFINISHED,
        "percent": round(job.progress * 100, 1) if job.status != ScoringJob.Status.DONE else 100.0,
        "scored_rows": job.created_rows + job.existing_rows,
        "errors": jobs.scoring_job_errors(job, limit=MAX_ERRORS_SHOWN) if done and job.error_rows else [],
    }


def job_progress_html(job: ScoringJob) -> str:
    """The progress region, as the page renders it and as the websocket sends it."""
    return render_to_string("detection/upload_job.html#job-progress", job_context(job))


# ------------------------------------------------------------------ views


@require_http_methods(["GET", "POST"])
def upload_index(request):
    _require_uploader(request)
    form, staged_redirect = upload_form_handle(request, next_view="detection:upload_map")
    if staged_redirect is not None:
        return staged_redirect
    mine = scoring_jobs_visible(organisation_id=request.organisation.pk, user=request.user)
    recent = mine.filter(created_by=request.user)[:RECENT_JOBS]
    return render(request, "detection/uploads.html", {"form": form, "jobs": recent})


@require_http_methods(["GET", "POST"])
def upload_map(request, key: str):
    _require_uploader(request)
    staged = staged_get(request.session, key)
    if staged is None or not staged.absolute.exists():
        raise Http404("This upload is no longer staged; upload the file again.")
    form = mapping_form(staged, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        job = _job_create(request, staged, form)
        if job is not None:
            staged_discard(request.session, key)
            return redirect("detection:upload_job", pk=job.pk)
    context = {"staged": staged, "form": form, "preview": staged_preview(staged)}
    return render(request, "detection/upload_map.html", context)


def _job_create(request, staged: StagedUpload, form: MappingForm) -> ScoringJob | None:
    source = jobs.uploads_source(organisation=request.organisation)
    with staged.absolute.open("rb") as handle:
        try:
            return jobs.scoring_job_create(
                source=source,
                upload=File(handle, name=staged.name),
                mapping=form.mapping(),
                attributes=form.cleaned_data["attributes"],
                label_column=form.cleaned_data["label_column"] or None,
                user=request.user,
            )
        except jobs.JobInputError as exc:
            form.add_error(None, exc.reason)
            return None


@require_GET
def upload_job(request, pk: int):
    job = _get_job_for_user(request, pk)
    return render(request, "detection/upload_job.html", job_context(job))


@require_GET
def upload_job_progress(request, pk: int):
    """The progress region alone: the page polls it every 2 s when its websocket is not connected."""
    job = _get_job_for_user(request, pk)
    return HttpResponse(job_progress_html(job))


@require_GET
def upload_job_result(request, pk: int):
    job = _get_job_for_user(request, pk)
    if job.status != ScoringJob.Status.DONE:
        return HttpResponse("The job has not finished; its scored file is ready when it is done.", status=409)
    stem = re.sub(r"[^\w.-]+", "_", Path(job.original_name or f"job-{job.pk}").stem)
    rows = jobs.scoring_job_result_rows(job)
    return csv_response(header=jobs.RESULT_COLUMNS, rows=rows, filename=f"{stem}-scored.csv")
