"""Backtests for people: upload a labelled file, map it, choose how to replay it, run it on a worker, read the report.

Staging and mapping are detection.staging's two steps; this module gives them the backtests' templates and options
form, and makes the run.
"""

from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from detection.backtests import selectors
from detection.backtests.forms import BacktestOptionsForm
from detection.backtests.report import report_context
from detection.backtests.services import backtest_run_create
from detection.models import BacktestRun
from detection.staging import views as staging


@require_http_methods(["GET", "POST"])
def backtest_index(request):
    return staging.upload_page(
        request,
        template="detection/backtests.html",
        next_view="detection:backtest_setup",
        context=lambda: {
            "runs": selectors.backtest_runs_recent(user=request.user, organisation_id=request.organisation.pk)
        },
    )


@require_http_methods(["GET", "POST"])
def backtest_setup(request, key: str):
    return staging.mapping_page(
        request, key, template="detection/backtest_setup.html", form_class=BacktestOptionsForm, create=_run_create
    )


def _run_create(*, staged, form: BacktestOptionsForm, user, organisation) -> str:
    run = backtest_run_create(
        organisation=organisation,
        staged=staged,
        mapping=form.mapping(),
        label_column=form.cleaned_data["label_column"],
        attributes=form.cleaned_data["attributes"],
        split_column=form.cleaned_data["split_column"] or None,
        options=form.options(),
        user=user,
    )
    return reverse("detection:backtest", kwargs={"pk": run.pk})


def _get_run_for_user(request, pk: int) -> BacktestRun:
    """The run, or 404 outside the organisation the request works in and for anyone but its author and those who
    may see every run (403 for those who may not upload at all)."""
    staging.require_uploader(request)
    return selectors.backtest_run_get(run_id=pk, user=request.user, organisation_id=request.organisation.pk)


@require_GET
def backtest_detail(request, pk: int):
    run = _get_run_for_user(request, pk)
    template = "detection/backtest.html#run-report" if request.htmx else "detection/backtest.html"
    return render(request, template, {"run": run, **report_context(run)})
