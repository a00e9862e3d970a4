"""A ready version made the challenger (one at a time per organisation), its challenge ended, or promoted to active:
each an audited service call that every process follows."""

import pytest
from django.db import IntegrityError
from django.db import transaction as db_transaction

from core.models import AuditEvent
from detection.engine.detector import Detector
from detection.models import ModelVersion
from detection.scoring import registry
from detection.training.services import (
    model_version_activate,
    model_version_challenge,
    model_version_challenge_end,
    model_version_promote,
)
from tests.factories import default_organisation


def stored_version(number: int, trained_model, status=ModelVersion.Status.READY) -> ModelVersion:
    return ModelVersion.objects.create(
        organisation=default_organisation(), version=number, status=status, **trained_model
    )


def in_force():
    loaded, challenger = registry.models_in_force(organisation_id=default_organisation().pk)
    return loaded.version.version, challenger.version.version if challenger else None


def test_a_ready_version_becomes_the_challenger_audited(active_model, trained_model, admin_user):
    version = stored_version(8, trained_model)

    model_version_challenge(version=version, user=admin_user)

    version.refresh_from_db()
    assert version.challenger and version.status == ModelVersion.Status.READY
    event = AuditEvent.objects.get(action="model.challenge")
    assert (event.before, event.after, event.actor_id) == ({"challenger": None}, {"challenger": 8}, admin_user.pk)


def test_a_new_challenger_replaces_the_previous_one(active_model, trained_model):
    first, second = stored_version(8, trained_model), stored_version(9, trained_model)
    model_version_challenge(version=first)

    model_version_challenge(version=second)

    assert list(ModelVersion.objects.filter(challenger=True)) == [second]
    assert AuditEvent.objects.filter(action="model.challenge").latest("id").before == {"challenger": 8}


@pytest.mark.parametrize("status", [ModelVersion.Status.ACTIVE, ModelVersion.Status.RETIRED])
def test_only_a_ready_version_can_be_the_challenger(no_active_model, trained_model, status):
    version = stored_version(8, trained_model, status=status)

    with pytest.raises(ValueError, match="only a ready version can be the challenger"):
        model_version_challenge(version=version)
    assert not ModelVersion.objects.filter(challenger=True).exists()


def test_the_database_holds_one_challenger_per_organisation(active_model, trained_model):
    stored_version(8, trained_model)
    ModelVersion.objects.filter(version=8).update(challenger=True)
    stored_version(9, trained_model)

    with pytest.raises(IntegrityError), db_transaction.atomic():
        ModelVersion.objects.filter(version=9).update(challenger=True)


def test_promotion_makes_the_challenger_active_in_one_audited_action(active_model, trained_model, admin_user):
    version = model_version_challenge(version=stored_version(8, trained_model))

    model_version_promote(version=version, user=admin_user)

    version.refresh_from_db()
    active_model.refresh_from_db()
    assert (version.status, version.challenger) == (ModelVersion.Status.ACTIVE, False)
    assert active_model.status == ModelVersion.Status.RETIRED
    event = AuditEvent.objects.get(action="model.promote")
    assert event.before == {"active_version": 7}
    assert event.after == {"active_version": 8, "promoted_challenger": True}


def test_only_the_challenger_can_be_promoted(active_model, trained_model):
    version = stored_version(8, trained_model)

    with pytest.raises(ValueError, match="v8 is not the challenger"):
        model_version_promote(version=version)
    assert ModelVersion.objects.get(pk=version.pk).status == ModelVersion.Status.READY


def test_activating_the_challenger_the_usual_way_ends_its_challenge(active_model, trained_model):
    version = model_version_challenge(version=stored_version(8, trained_model))

    model_version_activate(version=version)

    assert not ModelVersion.objects.filter(challenger=True).exists()


def test_ending_the_challenge_keeps_the_version_ready_audited(active_model, trained_model):
    version = model_version_challenge(version=stored_version(8, trained_model))

    model_version_challenge_end(version=version)

    version.refresh_from_db()
    assert (version.status, version.challenger) == (ModelVersion.Status.READY, False)
    assert AuditEvent.objects.filter(action="model.challenge_end").count() == 1


def test_every_change_is_seen_by_the_process_at_its_next_look(active_model, trained_model):
    version = stored_version(8, trained_model)
    assert in_force() == (7, None)

    model_version_challenge(version=version)
    registry.active_model_changed(default_organisation().pk)  # what the change's commit does
    assert in_force() == (7, 8)

    model_version_promote(version=version)
    registry.active_model_changed(default_organisation().pk)
    assert in_force() == (8, None)


def test_a_promoted_challenger_is_not_loaded_again(active_model, trained_model, monkeypatch):
    version = model_version_challenge(version=stored_version(8, trained_model))
    registry.active_model_changed()
    challenger = registry.models_in_force(organisation_id=default_organisation().pk)[1]
    model_version_promote(version=version)
    reads = []
    monkeypatch.setattr(Detector, "from_bytes", lambda *args: reads.append(args))

    registry.active_model_changed()  # the promotion's commit

    assert registry.active_model(organisation_id=default_organisation().pk).detector is challenger.detector
    assert reads == []
