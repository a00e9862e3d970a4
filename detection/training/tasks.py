"""Celery tasks of the detection app: thin, taking ids, calling a service."""

import logging
from datetime import datetime

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from detection.models import ModelVersion
from detection.training.services import (
    model_version_activate,
    model_version_retrain,
    model_version_train,
    organisations_with_traffic,
)

logger = logging.getLogger(__name__)
RETRAIN_LOCK = "detection:retrain-lock"


@shared_task(name="detection.tasks.model_version_train_task", acks_late=True)
def model_version_train_task(
    version_id: int,
    since: str | None = None,
    until: str | None = None,
    max_rows: int | None = None,
    seed: int = 0,
    activate: bool = False,
) -> int:
    """Train the given (training-state) version on its organisation's transactions; activate it when asked.
    Idempotent: a finished version is left."""
    claimed = ModelVersion.objects.filter(pk=version_id, status=ModelVersion.Status.TRAINING, trained_at=None)
    version = claimed.select_related("organisation").first()
    if version is None:
        return version_id
    version = model_version_train(
        organisation=version.organisation,
        since=datetime.fromisoformat(since) if since else None,
        until=datetime.fromisoformat(until) if until else None,
        max_rows=max_rows,
        seed=seed,
        version=version,
    )
    if activate:
        model_version_activate(version=version)
    return version.pk


@shared_task(name="detection.tasks.model_version_retrain_task", acks_late=True)
def model_version_retrain_task() -> list[int] | None:
    """The scheduled retraining (Celery beat): one at a time across all workers, each organisation with traffic in
    turn, on its newest RETRAIN_DAYS. Returns the new versions' ids (None when another retraining is running).

    One organisation's failure is logged and does not keep the others from their new version.
    """
    if not cache.add(RETRAIN_LOCK, "1", timeout=3 * 3600):
        return None
    trained = []
    try:
        for organisation in organisations_with_traffic():
            try:
                version = model_version_retrain(
                    organisation=organisation, days=settings.RETRAIN_DAYS, activate=settings.RETRAIN_AUTO_ACTIVATE
                )
            except Exception:
                logger.exception("scheduled retraining failed", extra={"organisation": organisation.name})
                continue
            if version is not None:
                trained.append(version.pk)
        return trained
    finally:
        cache.delete(RETRAIN_LOCK)
