"""Backtests for people: upload a labelled file, map it, choose how to replay it, run it on a worker, read the report.

The worker reads the file with detection.backtests.files and runs the engine's backtest (detection.engine.backtest);
the report is the engine's JSON, drawn here as tables and charts. A run belongs to the organisation it was started
in, and is listed and opened only there.
"""

import logging
import math
import shutil
import uuid
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from detection.backtests import files as backtest_io
from detection.backtests.forms import BacktestOptionsForm
from detection.backtests.report import report_context
from detection.engine.backtest import BacktestConfig, run_backtest
from detection.jobs.uploads import (
    UPLOAD_PERM,
    StagedUpload,
    staged_discard,
    staged_get,
    staged_preview,
    upload_form_handle,
)
from detection.models import BacktestRun
from transactions.files import guess_label_column, guess_mapping

logger = logging.getLogger(__name__)

SEE_ALL_RUNS_PERM = "detection.view_backtestrun"
BACKTESTS_DIR = "backtests"
RECENT_RUNS = 20
# A run still "running" this long after it started lost its worker; a redelivered task may take it over.
RUN_LEASE = timedelta(hours=2)


# ------------------------------------------------------------------ services


@transaction.atomic
def backtest_run_create(
    *,
    staged: StagedUpload,
    mapping: dict,
    label_column: str,
    attributes: list[str],
    split_column: str | None,
    options: dict,
    organisation,
    user=None,
) -> BacktestRun:
    """Move the staged file under MEDIA_ROOT/backtests/ and queue the organisation's run after commit."""
    relative = f"{BACKTESTS_DIR}/{uuid.uuid4().hex}/{Path(staged.path).name}"
    target = Path(settings.MEDIA_ROOT) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(staged.absolute, target)
    run = BacktestRun.objects.create(
        organisation=organisation,
        created_by=user,
        file_path=relative,
        original_name=staged.name,
        mapping=mapping,
        attributes=attributes,
        label_column=label_column,
        options=options | {"split_column": split_column or ""},
    )
    transaction.on_commit(lambda: _enqueue(run.pk))
    return run


def _enqueue(run_id: int) -> None:
    from detection.backtests.tasks import backtest_run_task

    backtest_run_task.apply_async(args=[run_id], queue=settings.JOB_QUEUE)


def backtest_run_claim(*, run_id: int) -> bool:
    """Take a pending run, or one whose worker died long ago; True if this caller now runs it."""
    now = timezone.now()
    stale = BacktestRun.objects.filter(pk=run_id, status=BacktestRun.Status.RUNNING, started_at__lt=now - RUN_LEASE)
    pending = BacktestRun.objects.filter(pk=run_id, status=BacktestRun.Status.PENDING)
    return bool(pending.update(status=BacktestRun.Status.RUNNING, started_at=now)) or bool(stale.update(started_at=now))


def backtest_run_execute(*, run_id: int) -> BacktestRun | None:
    """Read the file, replay it, store the report (or the reason it failed). None if another worker has it."""
    if not backtest_run_claim(run_id=run_id):
        return None
    run = BacktestRun.objects.get(pk=run_id)
    try:
        result = _replay(run)
    except Exception as exc:  # noqa: BLE001 - any failure is the run's outcome, shown to the person who ran it
        logger.warning("backtest failed", extra={"run": run_id}, exc_info=True)
        run.status, run.error = BacktestRun.Status.FAILED, f"{type(exc).__name__}: {exc}"[:2000]
    else:
        run.status, run.result = BacktestRun.Status.DONE, result
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "result", "error", "finished_at"])
    return run


def _replay(run: BacktestRun) -> dict:
    options = dict(run.options)
    split_column = options.pop("split_column", "") or None
    frame, split = backtest_io.load_frame(
        Path(settings.MEDIA_ROOT) / run.file_path,
        mapping=run.mapping,
        label=run.label_column,
        attributes=run.attributes,
        split_column=split_column,
    )
    config = BacktestConfig(split=split, **options)
    return _json_safe(run_backtest(frame, config))


def _json_safe(value):
    """The engine's figures with numpy numbers made plain and NaN or infinities made null, for a JSON column."""
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_json_safe(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ------------------------------------------------------------------ views


def _require_runner(request) -> None:
    """People who may upload, working in an organisation."""
    if not request.user.has_perm(UPLOAD_PERM) or request.organisation is None:
        raise PermissionDenied


def backtest_runs_visible(*, organisation_id: int, user):
    """The organisation's runs this person may open: their own, or every one with the see-all permission."""
    runs = BacktestRun.objects.filter(organisation_id=organisation_id)
    return runs if user.has_perm(SEE_ALL_RUNS_PERM) else runs.filter(created_by=user)


def _get_run_for_user(request, pk: int) -> BacktestRun:
    """The run, or 404 outside the request's organisation and for anyone but its author and those who may see
    every run."""
    _require_runner(request)
    run = backtest_runs_visible(organisation_id=request.organisation.pk, user=request.user).filter(pk=pk).first()
    if run is None:
        raise Http404("No such backtest.")
    return run


def options_form(staged: StagedUpload, data=None) -> BacktestOptionsForm:
    return BacktestOptionsForm(
        data,
        columns=staged.columns,
        fields=backtest_io.CANONICAL,
        required=backtest_io.REQUIRED,
        guess=guess_mapping(staged.columns),
        label_guess=guess_label_column(staged.columns),
    )


@require_http_methods(["GET", "POST"])
def backtest_index(request):
    _require_runner(request)
    form, staged_redirect = upload_form_handle(request, next_view="detection:backtest_setup")
    if staged_redirect is not None:
        return staged_redirect
    runs = BacktestRun.objects.filter(organisation=request.organisation, created_by=request.user)
    runs = runs.defer("result")[:RECENT_RUNS]
    return render(request, "detection/backtests.html", {"form": form, "runs": runs})


@require_http_methods(["GET", "POST"])
def backtest_setup(request, key: str):
    _require_runner(request)
    staged = staged_get(request.session, key)
    if staged is None or not staged.absolute.exists():
        raise Http404("This upload is no longer staged; upload the file again.")
    form = options_form(staged, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        run = backtest_run_create(
            staged=staged,
            mapping=form.mapping(),
            label_column=form.cleaned_data["label_column"],
            attributes=form.cleaned_data["attributes"],
            split_column=form.cleaned_data["split_column"] or None,
            options=form.options(),
            organisation=request.organisation,
            user=request.user,
        )
        staged_discard(request.session, key)
        return redirect("detection:backtest", pk=run.pk)
    context = {"staged": staged, "form": form, "preview": _preview(staged)}
    return render(request, "detection/backtest_setup.html", context)


def _preview(staged: StagedUpload) -> list[list[str]]:
    try:
        return staged_preview(staged)
    except (ValueError, OSError, pd.errors.ParserError):
        return []


@require_GET
def backtest_detail(request, pk: int):
    run = _get_run_for_user(request, pk)
    template = "detection/backtest.html#run-report" if request.htmx else "detection/backtest.html"
    return render(request, template, {"run": run, **report_context(run)})
