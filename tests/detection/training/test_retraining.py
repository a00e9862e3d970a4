from datetime import timedelta

import pytest
from django.core.cache import cache

from detection.models import ModelVersion
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
