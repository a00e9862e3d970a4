"""Reads of backtest runs: those a person may see, and their own latest."""

from django.db.models import QuerySet
from django.http import Http404

from detection.models import BacktestRun
from detection.staging.selectors import may_upload

SEE_ALL_RUNS_PERM = "detection.view_backtestrun"
RECENT_RUNS = 20


def backtest_runs_visible(*, user, organisation_id: int | None) -> QuerySet[BacktestRun]:
    """The runs of the organisation this person works in that they may read: their own, or anyone's for those who
    may see every run; none for those who may not upload."""
    if organisation_id is None or not may_upload(user):
        return BacktestRun.objects.none()
    runs = BacktestRun.objects.filter(organisation_id=organisation_id)
    return runs if user.has_perm(SEE_ALL_RUNS_PERM) else runs.filter(created_by=user)


def backtest_run_get(*, run_id: int, user, organisation_id: int | None) -> BacktestRun:
    """The run if this person may read it (backtest_runs_visible); Http404 otherwise, whether it exists or not."""
    run = backtest_runs_visible(user=user, organisation_id=organisation_id).filter(pk=run_id).first()
    if run is None:
        raise Http404("No such backtest.")
    return run


def backtest_runs_recent(*, user, organisation_id: int) -> QuerySet[BacktestRun]:
    """This person's own latest runs in the organisation, without their reports, for the backtests page."""
    mine = BacktestRun.objects.filter(created_by=user, organisation_id=organisation_id)
    return mine.defer("result")[:RECENT_RUNS]
