"""Each organisation trains, numbers, copies and activates its own model versions, on its own transactions only."""

from datetime import timedelta
from decimal import Decimal

import pandas as pd
import pytest

from core.models import AuditEvent
from detection.models import ModelVersion
from detection.scoring import registry
from detection.training import services as training
from detection.training.services import model_version_activate, model_version_copy, model_version_create
from tests.detection.conftest import START, history_source, store_history
from tests.factories import ModelVersionFactory
from transactions.models import Transaction


@pytest.fixture
def spy_fit(monkeypatch):
    """The frames training hands to the detector, with their training masks."""
    seen = []
    original = training.Detector.fit

    def fit(self, frame, **kwargs):
        seen.append((frame.copy(), kwargs["train_mask"].copy()))
        return original(self, frame, **kwargs)

    monkeypatch.setattr(training.Detector, "fit", fit)
    return seen


def mirror_into(organisation, rows: list[Transaction], *, factor: str = "7") -> list[Transaction]:
    """Another organisation's transactions under the same account and merchant ids, at the same times, amounts
    changed: whatever they hold must not reach the first organisation's features or labels."""
    source = history_source(organisation)
    mirrored = [
        Transaction(
            source=source,
            transaction_id=f"mirror-{t.transaction_id}",
            timestamp=t.timestamp + timedelta(seconds=30),
            account_id=t.account_id,
            amount=t.amount * Decimal(factor),
            merchant_id=t.merchant_id,
            merchant_category="jewellery",
            channel=t.channel,
            country="US",
            label=1,
            labelled_at=t.timestamp + timedelta(hours=1),
        )
        for t in rows
    ]
    return Transaction.objects.bulk_create(mirrored)


def test_versions_are_numbered_within_their_organisation(organisation, other_organisation):
    ModelVersionFactory(organisation=organisation, version=4)

    first_elsewhere = model_version_create(organisation=other_organisation)
    next_here = model_version_create(organisation=organisation)

    assert (first_elsewhere.version, first_elsewhere.status) == (1, ModelVersion.Status.TRAINING)
    assert next_here.version == 5


def test_activation_retires_only_its_own_organisations_active_version(organisation, other_organisation):
    theirs = ModelVersionFactory(organisation=other_organisation, version=1, status=ModelVersion.Status.ACTIVE)
    ours_before = ModelVersionFactory(organisation=organisation, version=1, status=ModelVersion.Status.ACTIVE)
    ours = ModelVersionFactory(organisation=organisation, version=2)

    model_version_activate(version=ours)

    statuses = dict(ModelVersion.objects.values_list("pk", "status"))
    assert statuses == {theirs.pk: "active", ours_before.pk: "retired", ours.pk: "active"}
    event = AuditEvent.objects.get(action="model.activate")
    assert (event.organisation_id, event.before, event.after) == (
        organisation.pk,
        {"active_version": 1},
        {"active_version": 2},
    )


def test_an_activation_tells_the_registry_of_its_organisation_once_committed(
    organisation, monkeypatch, django_capture_on_commit_callbacks
):
    told = []
    monkeypatch.setattr(registry, "active_model_changed", lambda organisation_id=None: told.append(organisation_id))
    version = ModelVersionFactory(organisation=organisation)

    with django_capture_on_commit_callbacks(execute=True):
        model_version_activate(version=version)
        assert told == []

    assert told == [organisation.pk]


def test_training_reads_only_its_organisations_transactions(organisation, other_organisation, spy_fit):
    ours = store_history(accounts=20, days=10)
    until = START + timedelta(days=10)
    before = training.model_version_train(organisation=organisation, until=until, seed=0)
    mirror_into(other_organisation, ours)

    after = training.model_version_train(organisation=organisation, until=until, seed=0)

    (frame_before, mask_before), (frame_after, mask_after) = spy_fit
    assert set(frame_after["row_id"]) == {t.pk for t in ours}
    pd.testing.assert_frame_equal(frame_before, frame_after)  # the other organisation's rows changed nothing
    assert (mask_before == mask_after).all()
    assert (before.training_rows, before.labelled_rows) == (after.training_rows, after.labelled_rows) == (len(ours), 0)
    assert (after.organisation, after.version) == (organisation, 2)


def test_training_an_organisation_without_transactions_fails_even_when_another_has_plenty(
    organisation, other_organisation
):
    store_history(accounts=20, days=10, organisation=other_organisation)

    with pytest.raises(ValueError, match="Too few transactions to train on: 0"):
        training.model_version_train(organisation=organisation, seed=0)
    assert ModelVersion.objects.get(organisation=organisation).status == ModelVersion.Status.FAILED


def test_a_version_given_to_train_must_be_of_the_organisation(organisation, other_organisation):
    theirs = model_version_create(organisation=other_organisation)

    with pytest.raises(ValueError, match="belongs to another organisation"):
        training.model_version_train(organisation=organisation, version=theirs)


def test_a_copy_is_a_ready_version_of_the_other_organisation_with_the_same_model(organisation, other_organisation):
    ModelVersionFactory(organisation=other_organisation, version=1, status=ModelVersion.Status.RETIRED)
    original = ModelVersionFactory(
        organisation=organisation,
        version=6,
        status=ModelVersion.Status.ACTIVE,
        parameters={"seed": 3},
        metrics={"roc_auc": 0.91},
        training_rows=1234,
    )

    copy = model_version_copy(version=original, organisation=other_organisation)

    copy.refresh_from_db()
    assert (copy.organisation, copy.version, copy.status) == (other_organisation, 2, ModelVersion.Status.READY)
    assert bytes(copy.artifact) == bytes(original.artifact)
    assert (copy.artifact_format, copy.algorithms, copy.metrics, copy.training_rows) == (
        original.artifact_format,
        original.algorithms,
        original.metrics,
        1234,
    )
    assert copy.parameters == {"seed": 3, "copied_from": {"organisation": organisation.name, "version": 6}}
    original.refresh_from_db()
    assert original.status == ModelVersion.Status.ACTIVE  # the original organisation keeps its active version
    assert AuditEvent.objects.get(action="model.copy").organisation_id == other_organisation.pk


def test_only_a_trained_version_of_another_organisation_is_copied(organisation, other_organisation):
    failed = ModelVersionFactory(organisation=organisation, status=ModelVersion.Status.FAILED, artifact=None)
    ours = ModelVersionFactory(organisation=organisation)

    with pytest.raises(ValueError, match="only a trained version can be copied"):
        model_version_copy(version=failed, organisation=other_organisation)
    with pytest.raises(ValueError, match="already belongs to"):
        model_version_copy(version=ours, organisation=organisation)
    assert not ModelVersion.objects.filter(organisation=other_organisation).exists()
