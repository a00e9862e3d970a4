"""Writes of training: a model version trained on stored transactions, retrained on a schedule, activated."""

import logging
import time
from datetime import UTC, datetime, timedelta

import numpy as np
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from core.audit import audit_record
from detection.engine.detector import ARTIFACT_FORMAT, ArtifactError, Detector
from detection.engine.features import ACCOUNT_LOOKBACK_SECONDS, MERCHANT_LOOKBACK_SECONDS
from detection.models import ModelVersion
from detection.scoring import adapters, registry
from transactions.models import Transaction

logger = logging.getLogger(__name__)
# Training loads this much history before its first row, so that its features see the histories scoring sees.
TRAINING_HISTORY_SECONDS = max(ACCOUNT_LOOKBACK_SECONDS, MERCHANT_LOOKBACK_SECONDS)


def model_version_train(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    max_rows: int | None = None,
    seed: int = 0,
    user=None,
    version: ModelVersion | None = None,
) -> ModelVersion:
    """Train a detector on stored transactions in [since, until) and save it as a ready version."""
    version = version or model_version_create(user=user)
    started = time.monotonic()
    try:
        frame, train = _training_frame(since=since, until=until, max_rows=max_rows)
        if train.sum() < 100:
            raise ValueError(f"Too few transactions to train on: {int(train.sum())} (need at least 100).")
        detector = Detector().fit(frame, seed=seed, train_mask=train)
    except Exception as exc:
        ModelVersion.objects.filter(pk=version.pk).update(status=ModelVersion.Status.FAILED, error=str(exc)[:2000])
        raise
    trained = frame[train]
    version.status = ModelVersion.Status.READY
    version.algorithms = list(detector.algorithms)
    version.parameters = dict(detector.params) | {"seed": seed}
    version.feature_names = list(detector.feature_names)
    version.training_start = _from_epoch(trained["ts"].min())
    version.training_end = _from_epoch(trained["ts"].max())
    version.training_rows = len(trained)
    version.labelled_rows = int(trained["label"].notna().sum())
    version.metrics = dict(detector.training_metrics) | {"training_seconds": round(time.monotonic() - started, 2)}
    version.artifact, version.artifact_format = detector.to_bytes(), ARTIFACT_FORMAT
    version.trained_at = timezone.now()
    version.save()
    logger.info("model trained", extra={"version": version.version, "rows": version.training_rows})
    return version


def _training_frame(*, since, until, max_rows):
    """The training rows of [since, until) (the newest `max_rows` of them) and, before them, their history.

    Scoring computes every feature over the account's and merchant's stored history (30 days and more); a model
    trained on its window alone would see the window's first weeks with short histories (few transactions, every
    merchant new) and find ordinary traffic surprising once full histories come. So the frame also holds the
    history window before the first training row, and only the training rows are trained on.
    """
    first = since
    if max_rows:
        newest = Transaction.objects.order_by("-timestamp", "-id")
        if since is not None:
            newest = newest.filter(timestamp__gte=since)
        if until is not None:
            newest = newest.filter(timestamp__lt=until)
        first = newest.values_list("timestamp", flat=True)[max_rows - 1 : max_rows].first() or since
    context = None if first is None else first - timedelta(seconds=TRAINING_HISTORY_SECONDS)
    frame = adapters.frame_for_window(since=context, until=until)
    ts = frame["ts"].to_numpy()
    train = np.ones(len(frame), bool) if first is None else ts >= int(first.timestamp())
    if max_rows and train.sum() > max_rows:  # rows sharing the first training row's second: keep the newest ones
        train[np.flatnonzero(train)[: int(train.sum()) - max_rows]] = False
    return frame, train


def model_version_retrain(*, days: int, activate: bool) -> ModelVersion | None:
    """Train on the newest `days` days of stored traffic, labels known so far included; None with too little data.

    With `activate`, the new version replaces the active one; otherwise it waits, ready, for an admin.
    """
    newest = Transaction.objects.order_by("-timestamp").values_list("timestamp", flat=True).first()
    if newest is None:
        return None
    since = newest - timedelta(days=days)
    if Transaction.objects.filter(timestamp__gte=since).count() < 100:
        return None
    version = model_version_train(since=since, until=newest + timedelta(seconds=1))
    if activate:
        model_version_activate(version=version)
    return version


def model_version_create(*, user=None) -> ModelVersion:
    """A new version number in the training state; retried if two trainings start at once."""
    for _ in range(5):
        try:
            with transaction.atomic():
                latest = ModelVersion.objects.aggregate(latest=Max("version"))["latest"] or 0
                return ModelVersion.objects.create(version=latest + 1, created_by=user)
        except IntegrityError:
            continue
    raise RuntimeError("Could not allocate a model version number.")


@transaction.atomic
def model_version_activate(*, version: ModelVersion, user=None, request=None) -> ModelVersion:
    """Make a ready (or retired) version the active one; the previous active version is retired."""
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    if version.status == ModelVersion.Status.ACTIVE:
        return version
    if version.status not in (ModelVersion.Status.READY, ModelVersion.Status.RETIRED):
        raise ValueError(f"Version v{version.version} is {version.status}; only a trained version can be activated.")
    if not version.artifact:
        raise ValueError(f"Version v{version.version} has no trained model to activate.")
    try:  # a version this release cannot read (a newer release trained it, say) would stop all scoring
        Detector.from_bytes(bytes(version.artifact), version.artifact_format)
    except ArtifactError as exc:
        raise ValueError(f"Version v{version.version} cannot be activated: {exc}.") from exc
    previous = ModelVersion.objects.select_for_update().filter(status=ModelVersion.Status.ACTIVE).first()
    if previous is not None:
        previous.status = ModelVersion.Status.RETIRED
        previous.save(update_fields=["status"])
    version.status = ModelVersion.Status.ACTIVE
    version.activated_at = timezone.now()
    version.save(update_fields=["status", "activated_at"])
    audit_record(
        action="model.activate",
        obj=version,
        before={"active_version": previous.version if previous else None},
        after={"active_version": version.version},
        actor=user,
        request=request,
    )
    transaction.on_commit(registry.active_model_changed)
    return version


def _from_epoch(seconds) -> datetime | None:
    return datetime.fromtimestamp(int(seconds), tz=UTC) if seconds == seconds else None
