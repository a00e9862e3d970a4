"""Scores whose alert evaluation could not be queued (the broker was down) are kept, and evaluated later."""

import time
from io import StringIO

import pytest
from django.core.management import call_command

from alerts.models import Alert, PendingEvaluation
from alerts.services import alerts_evaluate_for_scores, alerts_evaluate_pending
from anomaly_site.celery import app
from tests.alerts.helpers import scored
from tests.factories import AlertRuleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker_down():
    """The Celery app's broker pointed at a closed port, as in a Redis outage; put back after."""
    before = app.conf.broker_url
    _connect_to("redis://127.0.0.1:1/0")
    yield
    _connect_to(before)


def _connect_to(url: str) -> None:
    """Point the app at another broker: its connection and producer pools are made again from the new address."""
    app.conf.broker_url = url
    app._pool = None  # noqa: SLF001
    app.amqp._producer_pool = None  # noqa: SLF001


def test_a_broker_outage_keeps_the_scores_for_a_later_evaluation_without_stalling_scoring(
    broker_down, django_capture_on_commit_callbacks
):
    rule = AlertRuleFactory(min_risk_level="high")
    matching, ignored = scored(risk_level="high"), scored(risk_level="low", score=0.1)

    started = time.perf_counter()
    with django_capture_on_commit_callbacks(execute=True):
        alerts_evaluate_for_scores(organisation_id=rule.organisation_id, score_ids=[matching.pk, ignored.pk])
    elapsed = time.perf_counter() - started

    assert elapsed < 0.5  # two tries 0.1 s apart, not Celery's default 0.6 s of retries
    pending = PendingEvaluation.objects.get()
    assert pending.score_ids == [matching.pk, ignored.pk]
    assert "OperationalError" in pending.error or "ConnectionError" in pending.error
    assert not Alert.objects.exists()

    assert alerts_evaluate_pending() == 2
    assert list(Alert.objects.values_list("rule_id", "transaction_id")) == [(rule.pk, matching.transaction_id)]
    assert not PendingEvaluation.objects.exists()
    assert alerts_evaluate_pending() == 0


def test_evaluating_a_pending_row_again_fires_nothing_twice():
    rule = AlertRuleFactory(min_risk_level="high")
    score = scored(risk_level="high")
    PendingEvaluation.objects.create(score_ids=[score.pk])
    PendingEvaluation.objects.create(score_ids=[score.pk])  # queued twice, as by two failed requests

    assert alerts_evaluate_pending() == 2
    assert Alert.objects.filter(rule=rule).count() == 1


def test_alerts_requeue_evaluates_the_pending_scores_too():
    AlertRuleFactory(min_risk_level="high")
    PendingEvaluation.objects.create(score_ids=[scored(risk_level="high").pk])
    out = StringIO()

    call_command("alerts_requeue", stdout=out)

    assert "Evaluated the rules on 1 score(s) whose evaluation could not be queued." in out.getvalue()
    assert Alert.objects.count() == 1 and not PendingEvaluation.objects.exists()


def test_celery_beat_looks_for_pending_evaluations(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["alerts-evaluate-pending"]
    assert entry == {"task": "alerts.evaluate_pending", "schedule": settings.ALERTS_PENDING_EVERY_MINUTES * 60}
    assert "alerts.evaluate_pending" in app.tasks


def test_alerts_requeue_leaves_a_delivery_waiting_out_its_retry_backoff_to_its_retry(monkeypatch, settings):
    from datetime import timedelta

    from django.utils import timezone

    from alerts.management.commands import alerts_requeue
    from alerts.models import AlertDelivery

    settings.ALERTS_RETRY_BACKOFF = 60
    rule = AlertRuleFactory()
    now = timezone.now()

    def delivery(**fields):
        return AlertDelivery.objects.create(
            rule=rule, channel=rule.channel, destination="x", scheduled_for=now, **fields
        )

    never_tried = delivery()
    backing_off = delivery(attempts=2, last_attempt_at=now - timedelta(seconds=30))  # its retry comes at 120 s
    overdue = delivery(attempts=2, last_attempt_at=now - timedelta(seconds=600))  # its retry was lost with the broker
    delivery(status=AlertDelivery.Status.SENT, attempts=1, last_attempt_at=now)
    queued = []
    monkeypatch.setattr(alerts_requeue.alert_delivery_send, "delay", queued.append)
    out = StringIO()

    call_command("alerts_requeue", stdout=out)

    assert sorted(queued) == sorted([never_tried.pk, overdue.pk])
    assert backing_off.pk not in queued
    assert "Queued 2 delivery(ies)" in out.getvalue() and "1 waiting out a retry's backoff" in out.getvalue()
