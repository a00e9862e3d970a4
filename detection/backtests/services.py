"""Backtest runs: a staged labelled file copied for the run, queued, replayed on a worker, its report stored.

The worker reads the file with detection.backtests.files and runs the engine's backtest (detection.engine.backtest);
the report is the engine's JSON (detection.backtests.report draws it).
"""

import logging
import math
import shutil
import uuid
from datetime import timedelta
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from detection.backtests import files as backtest_files
from detection.engine.backtest import BacktestConfig, run_backtest
from detection.models import BacktestRun
from detection.staging.services import StagedUpload

logger = logging.getLogger(__name__)

BACKTESTS_DIR = "backtests"
# A run still "running" this long after it started lost its worker; a redelivered task may take it over.
RUN_LEASE = timedelta(hours=2)


@transaction.atomic
def backtest_run_create(
    *,
    organisation,
    staged: StagedUpload,
    mapping: dict,
    label_column: str,
    attributes: list[str],
    split_column: str | None,
    options: dict,
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
    frame, split = backtest_files.load_frame(
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
