"""Uploads for people: stage a CSV/Parquet file, map its columns (guessed from the header, editable), score it as
a background job (detection.jobs.services), follow its progress live, read its summary and download the scored file.

Staging and mapping are detection.staging's two steps; this module gives them the uploads' templates and makes
the job.
"""

import re
from pathlib import Path

import pandas as pd
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from core.csv_stream import csv_response
from detection.jobs import analysis, selectors
from detection.jobs import services as jobs
from detection.jobs.forms import AnalysisFilterForm
from detection.models import ScoringJob
from detection.staging import views as staging
from detection.staging.forms import MappingForm
from detection.staging.services import UploadTooLarge

MAX_ERRORS_SHOWN = 100


@require_http_methods(["GET", "POST"])
def upload_index(request):
    return staging.upload_page(
        request,
        template="detection/uploads.html",
        next_view="detection:upload_map",
        context=lambda: {
            "jobs": selectors.scoring_jobs_recent(user=request.user, organisation_id=request.organisation.pk)
        },
    )


@require_http_methods(["GET", "POST"])
def upload_map(request, key: str):
    return staging.mapping_page(
        request, key, template="detection/upload_map.html", form_class=MappingForm, create=_job_create
    )


def _job_create(*, staged, form: MappingForm, user, organisation) -> str | None:
    with staged.file() as upload:
        try:
            job = jobs.scoring_job_create(
                source=jobs.upload_source(organisation=organisation),
                upload=upload,
                mapping=form.mapping(),
                attributes=form.cleaned_data["attributes"],
                label_column=form.cleaned_data["label_column"] or None,
                user=user,
            )
        except jobs.JobInputError as exc:
            form.add_error(None, exc.reason)
            return None
        except UploadTooLarge as exc:
            form.add_error(None, str(exc))
            return None
    return reverse("detection:upload_job", kwargs={"pk": job.pk})


def _get_job_for_user(request, pk: int) -> ScoringJob:
    """The job, or 404 outside the organisation the request works in and for anyone but its author and those who
    may see every job (403 for those who may not upload at all): the jobs API applies the same rule
    (selectors.scoring_job_get)."""
    staging.require_uploader(request)
    return selectors.scoring_job_get(job_id=pk, user=request.user, organisation_id=request.organisation.pk)


def job_context(job: ScoringJob) -> dict:
    done = job.status == ScoringJob.Status.DONE
    return {
        "job": job,
        "unfinished": job.status in ScoringJob.UNFINISHED,
        "percent": round(job.progress * 100, 1) if not done else 100.0,
        "scored_rows": job.created_rows + job.existing_rows,
        "errors": selectors.scoring_job_errors(job, limit=MAX_ERRORS_SHOWN) if done and job.error_rows else [],
    }


def job_progress_html(job: ScoringJob) -> str:
    """The progress region, as the page renders it and as the websocket sends it."""
    return render_to_string("detection/upload_job.html#job-progress", job_context(job))


@require_GET
def upload_job(request, pk: int):
    job = _get_job_for_user(request, pk)
    return render(request, "detection/upload_job.html", job_context(job))


@require_GET
def upload_job_progress(request, pk: int):
    """The progress region alone: the page polls it when its websocket is not connected."""
    job = _get_job_for_user(request, pk)
    return HttpResponse(job_progress_html(job))


@require_GET
def upload_job_result(request, pk: int):
    job = _get_job_for_user(request, pk)
    if job.status != ScoringJob.Status.DONE:
        return HttpResponse("The job has not finished; its scored file is ready when it is done.", status=409)
    stem = re.sub(r"[^\w.-]+", "_", Path(job.original_name or f"job-{job.pk}").stem)
    rows = selectors.scoring_job_result_rows(job)
    return csv_response(header=selectors.RESULT_COLUMNS, rows=rows, filename=f"{stem}-scored.csv")


ANALYSIS_PAGE_ROWS = 50
ANALYSIS_CSV_COLUMNS = (
    "row",
    "transaction_id",
    "timestamp",
    "account_id",
    "merchant_id",
    "merchant_category",
    "channel",
    "amount",
    "score",
    "risk_level",
    "flagged",
    "decision",
    "reasons",
    "label",
)


@require_GET
def upload_job_analysis(request, pk: int):
    """The finished job's figures and its rows, filtered (`?risk=…&flagged=…`; htmx asks for the table alone)."""
    job = _get_job_for_user(request, pk)
    form = AnalysisFilterForm(request.GET)
    context = {"job": job, "form": form, "done": job.status == ScoringJob.Status.DONE}
    if context["done"]:
        rows = analysis.job_rows(job)
        if form.is_valid():
            context |= _table(request, rows, form)
        if not request.htmx:
            context["analysis"] = analysis.job_analysis(job, rows)
            context["drift"] = analysis.job_drift(job, rows, organisation_id=request.organisation.pk)
    template = "detection/upload_job_analysis.html"
    status = 200 if form.is_valid() or request.htmx else 400
    return render(request, f"{template}#analysis-rows" if request.htmx else template, context, status=status)


def _table(request, rows, form: AnalysisFilterForm) -> dict:
    filtered = form.filters().apply(rows)
    pages = max(1, -(-len(filtered) // ANALYSIS_PAGE_ROWS))
    number = min(form.cleaned_data.get("page") or 1, pages)
    shown = filtered.iloc[(number - 1) * ANALYSIS_PAGE_ROWS : number * ANALYSIS_PAGE_ROWS]
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "matching": len(filtered),
        "table": shown.to_dict("records"),
        "page": number,
        "pages": pages,
        "query": query.urlencode(),
    }


@require_GET
def upload_job_analysis_csv(request, pk: int):
    """The rows the analysis table's filters keep, every one of them, as CSV."""
    job = _get_job_for_user(request, pk)
    if job.status != ScoringJob.Status.DONE:
        return HttpResponse("The job has not finished; its rows can be exported when it is done.", status=409)
    form = AnalysisFilterForm(request.GET)
    if not form.is_valid():
        problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
        return HttpResponse(f"Bad filter: {problems}", status=400, content_type="text/plain")
    filtered = form.filters().apply(analysis.job_rows(job))
    stem = re.sub(r"[^\w.-]+", "_", Path(job.original_name or f"job-{job.pk}").stem)
    return csv_response(header=ANALYSIS_CSV_COLUMNS, rows=_csv_rows(filtered), filename=f"{stem}-rows.csv")


def _csv_rows(rows):
    for r in rows.itertuples(index=False):
        score = "" if pd.isna(r.score) else round(r.score, 6)  # not scored
        label = "" if pd.isna(r.label) else int(r.label)
        yield (
            r.row,
            r.transaction_id,
            r.timestamp.isoformat(),
            r.account_id,
            r.merchant_id,
            r.merchant_category,
            r.channel,
            f"{r.amount:.2f}",
            score,
            r.risk_level or "",
            r.flagged,
            r.decision,
            "; ".join(r.reasons),
            label,
        )
