import pytest
from django.utils import timezone

from detection.models import ModelVersion, RiskPolicy
from detection.training.services import model_version_train
from tests.conftest import work_in
from tests.detection.conftest import START
from transactions.models import LabelSource, Transaction


@pytest.fixture
def admin_client(client, admin_user, organisation):
    client.force_login(admin_user)
    work_in(client, organisation)
    return client


@pytest.fixture
def policy(organisation):
    return RiskPolicy.objects.create(organisation=organisation, review_threshold=0.9, comment="in force")


@pytest.fixture
def candidate(active_model) -> ModelVersion:
    """A ready v8 trained on the first week only, with another seed: it scores the window differently."""
    from datetime import timedelta

    return model_version_train(organisation=active_model.organisation, until=START + timedelta(days=7), seed=5)


def label(transactions, value: int) -> None:
    Transaction.objects.filter(pk__in=[t.pk for t in transactions]).update(
        label=value, labelled_at=timezone.now(), label_source=LabelSource.IMPORT
    )


@pytest.fixture
def labelled(active_model):
    """40 labels in the window: the 10 largest amounts fraud, 30 others legitimate."""
    stored = list(Transaction.objects.order_by("-amount"))
    label(stored[:10], 1)
    label(stored[100:130], 0)
    return stored
