"""Where Celery's autodiscovery finds the detection app's tasks: each job's package keeps its own.

Task names are given explicitly and stay those of the modules they first lived in, so messages already queued
and beat schedules keep working across releases.
"""

from detection.backtests.tasks import backtest_run_task
from detection.jobs.tasks import scoring_job_chunk_task, scoring_job_split_task
from detection.training.tasks import model_version_retrain_task, model_version_train_task

__all__ = [
    "backtest_run_task",
    "model_version_retrain_task",
    "model_version_train_task",
    "scoring_job_chunk_task",
    "scoring_job_split_task",
]
