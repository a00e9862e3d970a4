"""create_organisation (with another's model copied in) and train's --organisation."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Organisation
from core.models import AuditEvent
from detection.models import ModelVersion, Score
from detection.scoring import registry
from tests.detection.conftest import START, client_for, prototype_body, store_history
from tests.factories import ModelVersionFactory, OrganisationFactory
from transactions.models import Transaction


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def demo(db, trained_model):  # noqa: F811
    """The demo organisation, scoring with the session's trained model as its active v3."""
    demo = OrganisationFactory(name="demo")
    ModelVersion.objects.create(organisation=demo, version=3, status=ModelVersion.Status.ACTIVE, **trained_model)
    registry.active_model_changed()
    yield demo
    registry.active_model_changed()


def test_a_new_organisation_with_a_copied_model_scores_its_partners_first_transaction(demo):
    output = run("create_organisation", "acme", "--copy-model-from", "demo")
    secret = run("create_partner_token", "acme-bank", "--organisation", "acme", "--scopes", "score", "read")

    assert "Created organisation acme." in output and "a copy of demo's v3" in output
    acme = Organisation.objects.get(name="acme")
    copy = ModelVersion.objects.get(organisation=acme)
    assert (copy.version, copy.status) == (1, ModelVersion.Status.ACTIVE)
    assert copy.parameters["copied_from"] == {"organisation": "demo", "version": 3}
    response = client_for(secret.strip().splitlines()[-1]).post(
        "/api/v1/transactions/score", prototype_body(), format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["model_version"] == 1
    stored = Transaction.objects.get(transaction_id="TXN_00000001")
    assert stored.source.organisation == acme
    assert Score.objects.get(transaction=stored).model_version == copy
    assert ModelVersion.objects.get(organisation=demo).status == ModelVersion.Status.ACTIVE
    assert set(AuditEvent.objects.filter(organisation=acme).values_list("action", flat=True)) >= {
        "organisation.create",
        "model.copy",
        "model.activate",
    }


def test_a_new_organisation_without_a_copy_has_no_model(db):
    output = run("create_organisation", "acme")

    assert "It has no model yet" in output
    assert not ModelVersion.objects.filter(organisation__name="acme").exists()


def test_copying_from_an_organisation_without_an_active_version_creates_nothing(db):
    ModelVersionFactory(organisation=OrganisationFactory(name="demo"), status=ModelVersion.Status.READY)

    with pytest.raises(CommandError, match="demo has no active model version to copy"):
        run("create_organisation", "acme", "--copy-model-from", "demo")

    assert not Organisation.objects.filter(name="acme").exists()


def test_copying_from_an_unknown_organisation_names_those_there_are(db):
    OrganisationFactory(name="demo")

    with pytest.raises(CommandError, match="no organisation named 'nope'; there are: demo"):
        run("create_organisation", "acme", "--copy-model-from", "nope")
    assert not Organisation.objects.filter(name="acme").exists()


def test_an_organisation_name_is_taken_once(db):
    OrganisationFactory(name="acme")

    with pytest.raises(CommandError, match="name: Organisation with this Name already exists"):
        run("create_organisation", "acme")


def test_train_without_organisation_trains_the_only_one(organisation):
    store_history(accounts=20, days=10)

    output = run("train", "--until", (START + timedelta(days=10)).isoformat(), "--activate")

    version = ModelVersion.objects.get()
    assert f"Trained test-org's v1 on {version.training_rows} transactions" in output
    assert (version.organisation, version.status) == (organisation, ModelVersion.Status.ACTIVE)


def test_train_learns_the_named_organisations_transactions(organisation, other_organisation):
    store_history(accounts=20, days=10)
    theirs = store_history(accounts=30, days=10, seed=1, organisation=other_organisation)

    run("train", "--organisation", "other-org", "--days", "30")

    version = ModelVersion.objects.get()
    assert (version.organisation, version.training_rows) == (other_organisation, len(theirs))


def test_train_refuses_to_guess_among_several_organisations(organisation, other_organisation):
    with pytest.raises(
        CommandError, match=r"name the organisation with --organisation \(one of: other-org, test-org\)"
    ):
        run("train")
    assert not ModelVersion.objects.exists()


def test_train_days_counts_back_from_the_organisations_own_newest_transaction(organisation, other_organisation):
    store_history(accounts=30, days=10, seed=1, organisation=other_organisation)

    with pytest.raises(CommandError, match="test-org has no stored transactions to train on"):
        run("train", "--organisation", "test-org", "--days", "5")
