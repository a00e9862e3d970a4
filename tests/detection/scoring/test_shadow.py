"""Challengers in shadow: the challenger scores what the active version scores (single, batch, jobs, streaming all
go through the scoring services), its scores stored apart, deciding nothing."""

from datetime import timedelta

import pytest

from detection.models import ModelVersion, Score, ShadowScore
from detection.scoring import events, registry
from detection.scoring.events import scores_stored_subscribe
from detection.scoring.services import StoredRows, score_stored, score_transactions
from detection.training.services import model_version_challenge
from review.models import ReviewItem
from tests.detection.conftest import START, store_transaction
from tests.factories import default_organisation


@pytest.fixture
def challenger(active_model, trained_model) -> ModelVersion:
    """A second version of the session's model, ready, made the challenger (as an admin does)."""
    version = ModelVersion.objects.create(
        organisation=default_organisation(), version=8, status=ModelVersion.Status.READY, **trained_model
    )
    version = model_version_challenge(version=version)
    registry.active_model_changed()  # what the change's commit does
    return version


def new_rows(count: int, *, amount: str = "40.00") -> list:
    at = START + timedelta(days=10, hours=10)
    return [
        store_transaction(account_id=f"acct-{k % 20:03d}", amount=amount, at=at + timedelta(minutes=k))
        for k in range(count)
    ]


def test_a_single_score_is_scored_by_the_challenger_too_and_stored_apart(challenger, active_model):
    (tx,) = new_rows(1)

    (score,) = score_transactions(transactions=[tx])

    assert score.model_version_id == active_model.pk
    shadow = ShadowScore.objects.get(transaction=tx)
    assert (shadow.model_version_id, shadow.champion_id) == (challenger.pk, active_model.pk)
    assert shadow.score == pytest.approx(score.score, abs=1e-6)  # the same model: the same score, same features
    assert set(shadow.components) == set(score.components)
    assert not Score.objects.filter(model_version=challenger).exists()


def test_a_batch_is_scored_by_the_challenger_too(challenger, active_model):
    rows = new_rows(250)  # past COPY_ABOVE: the COPY path

    result = score_stored(stored=StoredRows(pks=[t.pk for t in rows]), organisation_id=default_organisation().pk)

    assert result.scored == 250
    assert ShadowScore.objects.filter(model_version=challenger, champion=active_model).count() == 250


def test_shadow_scores_decide_nothing(challenger, active_model, monkeypatch):
    monkeypatch.setattr(events, "_listeners", list(events._listeners))  # the listener added here goes afterwards
    told = []
    scores_stored_subscribe(told.append)  # beside the review queue's and the alerts' own listeners
    rows = new_rows(5, amount="4800.00")  # far above every account's level: the active version flags them

    score_transactions(transactions=rows)

    champion_scores = Score.objects.filter(transaction__in=rows)
    assert ShadowScore.objects.filter(model_version=challenger).count() == 5
    assert set(champion_scores.values_list("model_version_id", flat=True)) == {active_model.pk}
    # The news that queues, alerts and webhooks follow carries the active version's scores alone.
    assert sorted(i for event in told for i in event.score_ids.tolist()) == sorted(
        champion_scores.values_list("id", flat=True)
    )
    queued = ReviewItem.objects.filter(transaction__in=rows)
    assert queued.count() == champion_scores.filter(is_anomaly=True).count() > 0
    assert set(queued.values_list("score__model_version_id", flat=True)) == {active_model.pk}


def test_without_a_challenger_nothing_is_scored_in_shadow(active_model):
    rows = new_rows(3)

    score_transactions(transactions=rows)

    assert not ShadowScore.objects.exists()


def test_a_transaction_scored_again_keeps_its_shadow_score(challenger):
    (tx,) = new_rows(1)
    score_transactions(transactions=[tx])
    first = ShadowScore.objects.get(transaction=tx)

    score_stored(stored=StoredRows(pks=[tx.pk]), organisation_id=default_organisation().pk)

    assert list(ShadowScore.objects.filter(transaction=tx)) == [first]


def test_the_partner_api_scores_in_shadow_beside_the_active_version(challenger, scorer):
    body = {"transaction_id": "shadow-1", "timestamp": "2026-03-11T10:00:00Z", "account_id": "acct-001", "amount": "40"}

    response = scorer.post("/api/v1/transactions/score", body, format="json")

    assert response.status_code in (200, 201)
    assert ShadowScore.objects.filter(transaction__transaction_id="shadow-1", model_version=challenger).exists()


def test_a_challenger_this_release_cannot_read_scores_nothing_and_the_active_version_goes_on(active_model):
    unreadable = ModelVersion.objects.create(
        organisation=default_organisation(), version=9, status=ModelVersion.Status.READY, artifact=b"?"
    )
    ModelVersion.objects.filter(pk=unreadable.pk).update(challenger=True)
    registry.active_model_changed()
    (tx,) = new_rows(1)

    (score,) = score_transactions(transactions=[tx])

    assert score.model_version_id == active_model.pk
    assert not ShadowScore.objects.exists()
