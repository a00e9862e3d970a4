"""The backtest's Celery task: thin, taking the run's id; acks_late, and the run's claim makes a rerun harmless."""

from celery import shared_task

from detection.backtests.services import backtest_run_execute


@shared_task(name="detection.backtest_tasks.backtest_run_task", acks_late=True, reject_on_worker_lost=True)
def backtest_run_task(run_id: int) -> str:
    run = backtest_run_execute(run_id=run_id)
    return run.status if run is not None else "skipped"
