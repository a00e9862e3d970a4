from datetime import timedelta

import pytest
from django.core.cache import cache

from detection.models import ModelVersion
from detection.training.tasks import RETRAIN_LOCK, model_version_retrain_task
from transactions.services import transaction_label


@pytest.fixture(autouse=True)
def _no_lock():
    cache.delete(RETRAIN_LOCK)
    yield
    cache.delete(RETRAIN_LOCK)


def test_scheduled_retraining_leaves_a_ready_version_for_an_admin(history, settings):
    settings.RETRAIN_AUTO_ACTIVATE = False

    version_id = model_version_retrain_task()

    version = ModelVersion.objects.get(pk=version_id)
    assert version.status == ModelVersion.Status.READY
    assert version.training_rows > 0


def test_scheduled_retraining_activates_when_configured_and_learns_known_labels(history, settings):
    settings.RETRAIN_AUTO_ACTIVATE = True
    transaction_label(transaction=history[0], label=1, source="review", at=history[0].timestamp + timedelta(hours=1))

    version = ModelVersion.objects.get(pk=model_version_retrain_task())

    assert version.status == ModelVersion.Status.ACTIVE
    assert version.labelled_rows == 1


def test_a_retraining_already_running_elsewhere_is_not_started_twice(history):
    cache.add(RETRAIN_LOCK, "1", timeout=60)

    assert model_version_retrain_task() is None
    assert not ModelVersion.objects.exists()
