from datetime import datetime, timedelta

import pytest
from django.core.cache import cache

from core.models import AuditEvent
from detection.models import ModelVersion
from detection.training.services import model_version_activate, model_version_retrain, model_version_train
from detection.training.tasks import RETRAIN_LOCK, model_version_retrain_task
from tests.detection.conftest import store_history
from tests.factories import OrganisationFactory
from transactions.services import transaction_label


@pytest.fixture(autouse=True)
def _no_lock():
    cache.delete(RETRAIN_LOCK)
    yield
    cache.delete(RETRAIN_LOCK)


def test_scheduled_retraining_leaves_a_ready_version_for_an_admin(history, settings):
    settings.RETRAIN_AUTO_ACTIVATE = False

    (version_id,) = model_version_retrain_task()

    version = ModelVersion.objects.get(pk=version_id)
    assert version.status == ModelVersion.Status.READY
    assert version.training_rows > 0


def test_scheduled_retraining_activates_when_configured_and_learns_known_labels(history, settings):
    settings.RETRAIN_AUTO_ACTIVATE = True
    transaction_label(transaction=history[0], label=1, source="review", at=history[0].timestamp + timedelta(hours=1))

    (version_id,) = model_version_retrain_task()

    version = ModelVersion.objects.get(pk=version_id)
    assert version.status == ModelVersion.Status.ACTIVE
    assert version.labelled_rows == 1


def test_a_retraining_already_running_elsewhere_is_not_started_twice(history):
    cache.add(RETRAIN_LOCK, "1", timeout=60)

    assert model_version_retrain_task() is None
    assert not ModelVersion.objects.exists()


def test_scheduled_retraining_trains_each_organisation_with_traffic_on_its_own(
    organisation, other_organisation, settings
):
    settings.RETRAIN_AUTO_ACTIVATE = True
    ours = store_history(accounts=20, days=10)
    theirs = store_history(accounts=30, days=10, seed=1, organisation=other_organisation)
    OrganisationFactory(name="quiet-org")  # no traffic: nothing to train

    trained = ModelVersion.objects.filter(pk__in=model_version_retrain_task())

    by_organisation = {v.organisation.name: (v.version, v.status, v.training_rows) for v in trained}
    assert by_organisation == {
        organisation.name: (1, ModelVersion.Status.ACTIVE, len(ours)),
        other_organisation.name: (1, ModelVersion.Status.ACTIVE, len(theirs)),
    }


def test_an_unknown_promotion_metric_is_refused_before_training(history, settings):
    settings.RETRAIN_PROMOTE_METRIC = "accuracy"
    active = ModelVersion.objects.create(organisation=history[0].source.organisation, version=1, status="active")

    with pytest.raises(ValueError, match="RETRAIN_PROMOTE_METRIC must be one of average_precision, roc_auc"):
        model_version_retrain(organisation=active.organisation, days=30, activate=True)
    assert ModelVersion.objects.count() == 1


@pytest.fixture
def labelled_recent_days(history, settings):
    """An active version trained on the history, then outcomes known for the newest days (fraud: the largest
    amounts), so both versions can be ranked on them."""
    settings.COMPARE_MIN_LABELS = 20
    settings.RETRAIN_EVALUATION_DAYS = 5
    organisation = history[0].source.organisation
    active = model_version_train(organisation=organisation, seed=0)
    model_version_activate(version=active)
    newest = max(t.timestamp for t in history)
    recent = sorted((t for t in history if t.timestamp >= newest - timedelta(days=4)), key=lambda t: -t.amount)
    for k, tx in enumerate(recent[:60]):
        transaction_label(transaction=tx, label=int(k < 12), source="reported", at=newest)
    return active


def test_retraining_that_beats_the_active_version_by_the_margin_activates_it_audited(labelled_recent_days, settings):
    settings.RETRAIN_AUTO_ACTIVATE = True
    settings.RETRAIN_PROMOTE_MARGIN = -1.0  # any figure beats the active one by this margin

    (version_id,) = model_version_retrain_task()

    version = ModelVersion.objects.get(pk=version_id)
    assert version.status == ModelVersion.Status.ACTIVE
    check = version.promotion_check
    assert (check["beats"], check["activated"], check["metric"], check["labelled"]) == (
        True,
        True,
        "average_precision",
        60,
    )
    assert set(check["figures"]) == {"active", "candidate"}
    event = AuditEvent.objects.get(action="model.auto_activate")
    assert event.after["active_version"] == version.version
    assert event.after["promotion_check"]["beats"] is True


def test_retraining_that_does_not_beat_it_stays_ready_with_the_comparison_saved(labelled_recent_days, settings):
    settings.RETRAIN_AUTO_ACTIVATE = True
    settings.RETRAIN_PROMOTE_MARGIN = 1.0  # nothing beats the active one by a whole unit

    (version_id,) = model_version_retrain_task()

    version = ModelVersion.objects.get(pk=version_id)
    assert version.status == ModelVersion.Status.READY
    assert ModelVersion.objects.get(pk=labelled_recent_days.pk).status == ModelVersion.Status.ACTIVE
    check = version.promotion_check
    assert (check["beats"], check["activated"]) == (False, False)
    assert "does not beat" in check["reason"]
    assert not AuditEvent.objects.filter(action="model.auto_activate").exists()


def test_retraining_is_never_judged_on_the_days_it_trained_on(labelled_recent_days, settings):
    settings.RETRAIN_PROMOTE_MARGIN = 1.0

    (version_id,) = model_version_retrain_task()

    version = ModelVersion.objects.get(pk=version_id)
    assert version.training_end < datetime.fromisoformat(version.promotion_check["since"])


def test_retraining_without_enough_labels_stays_ready_saying_why(history, settings):
    settings.RETRAIN_AUTO_ACTIVATE = True
    organisation = history[0].source.organisation
    model_version_activate(version=model_version_train(organisation=organisation, seed=0))

    (version_id,) = model_version_retrain_task()

    version = ModelVersion.objects.get(pk=version_id)
    assert version.status == ModelVersion.Status.READY
    assert version.promotion_check["reason"].startswith("No labelled transaction to compare on")


def test_an_unknown_promotion_metric_is_a_system_check_error(settings):
    from detection.checks import retrain_promote_metric_known

    settings.RETRAIN_PROMOTE_METRIC = "accuracy"

    (error,) = retrain_promote_metric_known(None)

    assert error.id == "detection.E001" and "accuracy" in error.msg
