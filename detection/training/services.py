"""Writes of training: an organisation's model version trained on its stored transactions, retrained on a schedule,
copied from another organisation, activated.

Each organisation trains, numbers and activates its own versions, and trains on its own transactions only.
"""

import logging
import time
from datetime import UTC, datetime, timedelta

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone

from accounts.models import Organisation
from core.audit import audit_record
from detection.engine.detector import ARTIFACT_FORMAT, ArtifactError, Detector
from detection.engine.features import ACCOUNT_LOOKBACK_SECONDS, MERCHANT_LOOKBACK_SECONDS
from detection.models import ModelVersion
from detection.scoring import adapters, registry
from detection.training import proof, tracking
from transactions.models import Transaction

logger = logging.getLogger(__name__)
# Training loads this much history before its first row, so that its features see the histories scoring sees.
TRAINING_HISTORY_SECONDS = max(ACCOUNT_LOOKBACK_SECONDS, MERCHANT_LOOKBACK_SECONDS)


def model_version_train(
    *,
    organisation: Organisation,
    since: datetime | None = None,
    until: datetime | None = None,
    max_rows: int | None = None,
    seed: int = 0,
    user=None,
    version: ModelVersion | None = None,
) -> ModelVersion:
    """Train a detector on the organisation's stored transactions in [since, until) and save it as a ready version
    of the organisation (`version`, when given, must be one of its own in the training state)."""
    if version is not None and version.organisation_id != organisation.pk:
        raise ValueError(f"Version v{version.version} belongs to another organisation than {organisation}.")
    version = version or model_version_create(organisation=organisation, user=user)
    started = time.monotonic()
    try:
        frame, train = _training_frame(organisation_id=organisation.pk, since=since, until=until, max_rows=max_rows)
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
    requested = {"since": since, "until": until, "max_rows": max_rows}
    tracked = tracking.training_run_log(version=version, requested=requested)
    if tracked is not None:
        version.mlflow_run_id, version.mlflow_run_url = tracked.run_id, tracked.url
    version.save()
    logger.info(
        "model trained",
        extra={"organisation": organisation.name, "version": version.version, "rows": version.training_rows},
    )
    return version


def _training_frame(*, organisation_id: int, since, until, max_rows):
    """The organisation's training rows of [since, until) (the newest `max_rows` of them) and, before them, their
    history (its own: another organisation's rows under the same account or merchant ids are never read).

    Scoring computes every feature over the account's and merchant's stored history (30 days and more); a model
    trained on its window alone would see the window's first weeks with short histories (few transactions, every
    merchant new) and find ordinary traffic surprising once full histories come. So the frame also holds the
    history window before the first training row, and only the training rows are trained on.
    """
    first = since
    if max_rows:
        newest = _transactions_of(organisation_id).order_by("-timestamp", "-id")
        if since is not None:
            newest = newest.filter(timestamp__gte=since)
        if until is not None:
            newest = newest.filter(timestamp__lt=until)
        first = newest.values_list("timestamp", flat=True)[max_rows - 1 : max_rows].first() or since
    context = None if first is None else first - timedelta(seconds=TRAINING_HISTORY_SECONDS)
    frame = adapters.frame_for_window(organisation_id=organisation_id, since=context, until=until)
    ts = frame["ts"].to_numpy()
    train = np.ones(len(frame), bool) if first is None else ts >= int(first.timestamp())
    if max_rows and train.sum() > max_rows:  # rows sharing the first training row's second: keep the newest ones
        train[np.flatnonzero(train)[: int(train.sum()) - max_rows]] = False
    return frame, train


def _transactions_of(organisation_id: int):
    return Transaction.objects.filter(source__organisation_id=organisation_id)


def organisations_with_traffic():
    """The organisations that have stored at least one transaction (those a scheduled retraining looks at)."""
    stored = Transaction.objects.filter(source__organisation=OuterRef("pk"))
    return Organisation.objects.filter(Exists(stored)).order_by("name")


def model_version_retrain(*, organisation: Organisation, days: int, activate: bool) -> ModelVersion | None:
    """Train on the organisation's newest `days` days of stored traffic, labels known so far included; None with
    too little data.

    With an active version, the newest RETRAIN_EVALUATION_DAYS labelled days are held out of training and both
    versions are compared on them (detection.training.proof); the comparison is saved on the new version. With
    `activate`, the new version replaces the active one only if it beats it by RETRAIN_PROMOTE_MARGIN on
    RETRAIN_PROMOTE_METRIC (audited as `model.auto_activate`), or when none is active; otherwise it waits, ready,
    for an admin.
    """
    stored = _transactions_of(organisation.pk)
    newest = stored.order_by("-timestamp").values_list("timestamp", flat=True).first()
    if newest is None:
        return None
    since = newest - timedelta(days=days)
    if stored.filter(timestamp__gte=since)[:100].count() < 100:
        return None
    active = ModelVersion.objects.filter(organisation=organisation, status=ModelVersion.Status.ACTIVE).first()
    window = None
    if active is not None:
        proof.metric_name()  # a misspelt metric fails before the training, not after
        window = proof.evaluation_window(organisation_id=organisation.pk, days=settings.RETRAIN_EVALUATION_DAYS)
    until = window.since if window is not None else newest + timedelta(seconds=1)
    version = model_version_train(organisation=organisation, since=since, until=until)
    if active is None:
        check = {"beats": True, "reason": "No version was active: nothing to beat."}
    else:
        check = proof.promotion_check(candidate=version, active=active, window=window)
    check["activated"] = bool(activate and check["beats"])
    if not activate:
        check["reason"] += " (RETRAIN_AUTO_ACTIVATE is off: never activated on its own.)"
    version.promotion_check = check
    version.save(update_fields=["promotion_check"])
    if check["activated"]:
        model_version_activate(version=version, action="model.auto_activate", detail={"promotion_check": check})
    return version


def model_version_create(
    *, organisation: Organisation, user=None, status: str = ModelVersion.Status.TRAINING, **fields
) -> ModelVersion:
    """The organisation's next version number, in the training state (or `status`, with `fields`); retried if two
    versions of the organisation are created at once (the number is unique within the organisation)."""
    for _ in range(5):
        try:
            with transaction.atomic():
                numbered = ModelVersion.objects.filter(organisation=organisation)
                latest = numbered.aggregate(latest=Max("version"))["latest"] or 0
                return ModelVersion.objects.create(
                    organisation=organisation, version=latest + 1, status=status, created_by=user, **fields
                )
        except IntegrityError:
            continue
    raise RuntimeError(f"Could not allocate a model version number in {organisation}.")


COPIED_FIELDS = (
    "algorithms",
    "feature_names",
    "training_start",
    "training_end",
    "training_rows",
    "labelled_rows",
    "metrics",
    "artifact",
    "artifact_format",
    "trained_at",
)


@transaction.atomic
def model_version_copy(*, version: ModelVersion, organisation: Organisation, user=None) -> ModelVersion:
    """A trained version of one organisation as a new ready version of another, its artifact and record copied
    (`parameters["copied_from"]` says whose): the new organisation can score before it has traffic to train on.

    Nothing of the first organisation's transactions is copied; only what its model learnt from them.
    """
    if version.organisation_id == organisation.pk:
        raise ValueError(f"v{version.version} already belongs to {organisation}.")
    if version.status not in (ModelVersion.Status.READY, ModelVersion.Status.ACTIVE, ModelVersion.Status.RETIRED):
        raise ValueError(f"Version v{version.version} is {version.status}; only a trained version can be copied.")
    if not version.artifact:
        raise ValueError(f"Version v{version.version} has no trained model to copy.")
    origin = {"organisation": version.organisation.name, "version": version.version}
    copy = model_version_create(
        organisation=organisation,
        user=user,
        status=ModelVersion.Status.READY,
        parameters=dict(version.parameters) | {"copied_from": origin},
        **{name: getattr(version, name) for name in COPIED_FIELDS},
    )
    audit_record(action="model.copy", obj=copy, after={"version": copy.version, "copied_from": origin}, actor=user)
    return copy


def _readable(version: ModelVersion, doing: str) -> None:
    """ValueError unless the version has an artifact this release reads: one it cannot read (a newer release trained
    it, say) would stop all scoring once active."""
    if not version.artifact:
        raise ValueError(f"Version v{version.version} has no trained model to {doing}.")
    try:
        Detector.from_bytes(bytes(version.artifact), version.artifact_format)
    except ArtifactError as exc:
        raise ValueError(f"Version v{version.version} cannot be {doing}d: {exc}.") from exc


@transaction.atomic
def model_version_activate(
    *, version: ModelVersion, user=None, request=None, action: str = "model.activate", detail: dict | None = None
) -> ModelVersion:
    """Make a ready (or retired) version its organisation's active one; the organisation's previous active version
    is retired (other organisations' are left as they are). Audited as `action`, with `detail` (why) beside the
    versions; a challenger activated stops being one."""
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    if version.status == ModelVersion.Status.ACTIVE:
        return version
    if version.status not in (ModelVersion.Status.READY, ModelVersion.Status.RETIRED):
        raise ValueError(f"Version v{version.version} is {version.status}; only a trained version can be activated.")
    _readable(version, "activate")
    active = ModelVersion.objects.filter(organisation_id=version.organisation_id, status=ModelVersion.Status.ACTIVE)
    previous = active.select_for_update().first()
    if previous is not None:
        previous.status = ModelVersion.Status.RETIRED
        previous.save(update_fields=["status"])
    version.status, version.challenger = ModelVersion.Status.ACTIVE, False
    version.activated_at = timezone.now()
    version.save(update_fields=["status", "challenger", "activated_at"])
    audit_record(
        action=action,
        obj=version,
        before={"active_version": previous.version if previous else None},
        after={"active_version": version.version} | (detail or {}),
        actor=user,
        request=request,
    )
    _tell_processes(version.organisation_id)
    return version


def _challenger_of(organisation_id: int) -> ModelVersion | None:
    challengers = ModelVersion.objects.select_for_update().filter(organisation_id=organisation_id, challenger=True)
    return challengers.first()


@transaction.atomic
def model_version_challenge(*, version: ModelVersion, user=None, request=None) -> ModelVersion:
    """Make a ready version its organisation's challenger: it scores live traffic and jobs in shadow beside the
    active version from the next transaction on (every process within a second), deciding nothing. The
    organisation's previous challenger, if any, stops being one: one at a time."""
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    if version.challenger:
        return version
    if version.status != ModelVersion.Status.READY:
        raise ValueError(f"Version v{version.version} is {version.status}; only a ready version can be the challenger.")
    _readable(version, "challenge")
    previous = _challenger_of(version.organisation_id)
    if previous is not None:
        ModelVersion.objects.filter(pk=previous.pk).update(challenger=False)
    version.challenger = True
    version.save(update_fields=["challenger"])
    audit_record(
        action="model.challenge",
        obj=version,
        before={"challenger": previous.version if previous else None},
        after={"challenger": version.version},
        actor=user,
        request=request,
    )
    _tell_processes(version.organisation_id)
    return version


@transaction.atomic
def model_version_challenge_end(*, version: ModelVersion, user=None, request=None) -> ModelVersion:
    """The challenger stops scoring in shadow (its stored shadow scores stay); it stays ready."""
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    if not version.challenger:
        raise ValueError(f"Version v{version.version} is not the challenger.")
    version.challenger = False
    version.save(update_fields=["challenger"])
    audit_record(
        action="model.challenge_end",
        obj=version,
        before={"challenger": version.version},
        after={"challenger": None},
        actor=user,
        request=request,
    )
    _tell_processes(version.organisation_id)
    return version


@transaction.atomic
def model_version_promote(*, version: ModelVersion, user=None, request=None) -> ModelVersion:
    """The challenger becomes the active version in one audited action (`model.promote`); the active one is retired.
    Every process scores with it within a second (they hold it loaded already, as the challenger)."""
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    if not version.challenger:
        raise ValueError(f"Version v{version.version} is not the challenger: only the challenger can be promoted.")
    return model_version_activate(
        version=version, user=user, request=request, action="model.promote", detail={"promoted_challenger": True}
    )


def _tell_processes(organisation_id: int) -> None:
    transaction.on_commit(lambda: registry.active_model_changed(organisation_id))


def _from_epoch(seconds) -> datetime | None:
    return datetime.fromtimestamp(int(seconds), tz=UTC) if seconds == seconds else None
