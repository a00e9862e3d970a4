"""End to end through a real Celery worker: scores committed, rules evaluated, deliveries sent and retried."""

import time

import pytest

from alerts.models import Alert, AlertDelivery
from alerts.services import alerts_evaluate_for_scores
from tests.alerts.helpers import scored
from tests.factories import AlertRuleFactory, default_organisation

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _wait(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _all_settled(rule) -> bool:
    deliveries = AlertDelivery.objects.filter(rule=rule)
    return deliveries.exists() and not deliveries.filter(status__in=["pending", "sending"]).exists()


def test_worker_fires_a_rule_once_per_matching_transaction(celery_worker_process, receiver):
    rule = AlertRuleFactory(destination=receiver.url, min_risk_level="high")
    matching = [scored(risk_level="high") for _ in range(3)]
    ignored = scored(risk_level="low", score=0.1)
    ids = [s.pk for s in [*matching, ignored]]

    alerts_evaluate_for_scores(organisation_id=default_organisation().pk, score_ids=ids)
    alerts_evaluate_for_scores(organisation_id=default_organisation().pk, score_ids=ids)

    assert _wait(lambda: _all_settled(rule) and len(receiver.requests) >= 3)
    time.sleep(0.5)  # room for a wrong duplicate to show up
    assert Alert.objects.filter(rule=rule).count() == 3
    assert list(AlertDelivery.objects.filter(rule=rule).values_list("status", flat=True)) == ["sent"] * 3
    assert len(receiver.requests) == 3


def test_worker_retries_500_twice_then_records_one_successful_delivery(celery_worker_process, receiver_factory):
    receiver = receiver_factory(script=[500, 500])
    rule = AlertRuleFactory(destination=receiver.url)

    alerts_evaluate_for_scores(organisation_id=default_organisation().pk, score_ids=[scored().pk])

    assert _wait(lambda: _all_settled(rule))
    delivery = AlertDelivery.objects.get(rule=rule)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("sent", 3, 200)
    assert len(receiver.requests) == 3


def test_silent_receiver_leaves_scoring_unblocked_and_other_deliveries_sent(celery_worker_process, receiver_factory):
    silent, healthy = receiver_factory(hang_seconds=30), receiver_factory()
    slow_rule = AlertRuleFactory(name="silent", destination=silent.url, timeout_seconds=0.5)
    good_rule = AlertRuleFactory(name="healthy", destination=healthy.url)
    score_id = scored().pk

    started = time.perf_counter()
    alerts_evaluate_for_scores(organisation_id=default_organisation().pk, score_ids=[score_id])
    elapsed = time.perf_counter() - started

    assert elapsed < 0.5  # it only enqueues: no rule evaluation, no HTTP
    assert silent.requests == [] and healthy.requests == []
    assert _wait(lambda: _all_settled(good_rule))
    assert AlertDelivery.objects.get(rule=good_rule).status == "sent"
    assert _wait(lambda: _all_settled(slow_rule))
    slow = AlertDelivery.objects.get(rule=slow_rule)
    assert (slow.status, slow.attempts) == ("failed", 4)
    assert "timed out" in slow.last_error.lower()
