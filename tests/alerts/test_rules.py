"""Rule evaluation, called as the task body does: which transactions raise alerts, and how deliveries group."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from alerts.models import Alert, AlertDelivery, AlertRule
from alerts.services import alerts_evaluate
from alerts.tasks import alerts_evaluate_task
from tests.alerts.helpers import T0, scored
from tests.factories import AlertRuleFactory

pytestmark = pytest.mark.django_db


def test_rule_fires_once_per_matching_transaction():
    rule = AlertRuleFactory(min_risk_level="high")
    matching = [scored(risk_level="high"), scored(risk_level="critical", score=0.995)]
    low = scored(risk_level="low", score=0.2)
    ids = [s.pk for s in [*matching, low]]

    alerts_evaluate(score_ids=ids)
    alerts_evaluate(score_ids=ids)  # a redelivered task changes nothing

    assert sorted(Alert.objects.filter(rule=rule).values_list("transaction_id", flat=True)) == sorted(
        s.transaction_id for s in matching
    )
    assert AlertDelivery.objects.filter(rule=rule).count() == 2


def test_task_body_returns_the_number_of_new_alerts():
    AlertRuleFactory(min_risk_level="high")
    scores = [scored(), scored()]

    assert alerts_evaluate_task([s.pk for s in scores]) == 2
    assert alerts_evaluate_task([s.pk for s in scores]) == 0


def test_disabled_rule_does_not_fire():
    AlertRuleFactory(enabled=False)
    alerts_evaluate(score_ids=[scored().pk])
    assert Alert.objects.count() == 0


def test_every_set_condition_must_hold():
    AlertRuleFactory(
        min_score=0.9,
        amount_min=Decimal("100"),
        amount_max=Decimal("1000"),
        merchant_categories=["electronics"],
        transaction_channels=["online"],
    )
    hit = scored(amount=Decimal("500"), merchant_category="electronics", channel="online")
    misses = [
        scored(amount=Decimal("50"), merchant_category="electronics", channel="online"),
        scored(amount=Decimal("500"), merchant_category="grocery", channel="online"),
        scored(amount=Decimal("500"), merchant_category="electronics", channel="atm"),
        scored(score=0.5, risk_level="low", amount=Decimal("500"), merchant_category="electronics", channel="online"),
    ]

    alerts_evaluate(score_ids=[s.pk for s in [hit, *misses]])

    assert list(Alert.objects.values_list("transaction_id", flat=True)) == [hit.transaction_id]


def test_account_and_merchant_lists_restrict_the_rule():
    AlertRuleFactory(account_ids=["acct-watch"], merchant_ids=["m-1", "m-2"])
    hit = scored(account_id="acct-watch", merchant_id="m-2")
    miss = scored(account_id="acct-other", merchant_id="m-2")

    alerts_evaluate(score_ids=[hit.pk, miss.pk])

    assert list(Alert.objects.values_list("transaction_id", flat=True)) == [hit.transaction_id]


def test_rate_condition_fires_only_past_n_matches_on_one_merchant_in_the_window():
    AlertRuleFactory(rate_count=2, rate_window_minutes=10, rate_scope=AlertRule.RateScope.MERCHANT)
    burst = [scored(merchant_id="m-burst", minutes=m) for m in (0, 3, 6, 8)]
    spread = [scored(merchant_id="m-slow", minutes=m) for m in (0, 20, 40)]

    alerts_evaluate(score_ids=[s.pk for s in [*burst, *spread]])

    fired = set(Alert.objects.values_list("transaction_id", flat=True))
    assert fired == {burst[2].transaction_id, burst[3].transaction_id}


def test_rate_condition_by_account_counts_that_account_only():
    AlertRuleFactory(rate_count=1, rate_window_minutes=5, rate_scope=AlertRule.RateScope.ACCOUNT)
    first, second = scored(account_id="a-1", minutes=0), scored(account_id="a-1", minutes=2)
    other = scored(account_id="a-2", minutes=1)

    alerts_evaluate(score_ids=[first.pk, second.pk, other.pk])

    assert list(Alert.objects.values_list("transaction_id", flat=True)) == [second.transaction_id]


def test_in_app_rule_raises_alerts_without_deliveries():
    AlertRuleFactory(channel=AlertRule.Channel.IN_APP, destination="")
    alerts_evaluate(score_ids=[scored().pk])
    assert Alert.objects.count() == 1
    assert AlertDelivery.objects.count() == 0


def test_quiet_period_groups_repeats_into_one_summary_delivery():
    rule = AlertRuleFactory(quiet_period_minutes=10)
    with time_machine.travel(T0, tick=False) as clock:
        alerts_evaluate(score_ids=[scored().pk])
        for _ in range(4):
            clock.shift(timedelta(minutes=1))
            alerts_evaluate(score_ids=[scored().pk])
        clock.shift(timedelta(minutes=20))
        alerts_evaluate(score_ids=[scored().pk])

    deliveries = list(AlertDelivery.objects.filter(rule=rule).order_by("scheduled_for"))
    assert [d.alerts.count() for d in deliveries] == [1, 4, 1]
    assert [d.scheduled_for - T0 for d in deliveries] == [
        timedelta(0),
        timedelta(minutes=10),
        timedelta(minutes=24),
    ]


def test_quiet_period_groups_repeats_within_one_batch():
    rule = AlertRuleFactory(quiet_period_minutes=5)
    scores = [scored(minutes=m) for m in range(6)]

    alerts_evaluate(score_ids=[s.pk for s in scores])

    assert sorted(d.alerts.count() for d in AlertDelivery.objects.filter(rule=rule)) == [1, 5]


def test_screen_lets_through_exactly_the_scores_some_rule_could_match(organisation, django_assert_num_queries):
    from alerts.selectors import alert_rules_may_match

    low, medium, high = scored(risk_level="low", score=0.2), scored(risk_level="medium", score=0.6), scored()
    assert (
        alert_rules_may_match([low, medium, high], organisation_id=organisation.pk) == []
    )  # no rule: nothing is sent to a worker
    AlertRuleFactory(min_risk_level="high")
    AlertRuleFactory(min_risk_level="", min_score=0.55)
    AlertRuleFactory(min_risk_level="", min_score=0.1, enabled=False)
    assert alert_rules_may_match([low, medium, high], organisation_id=organisation.pk) == [medium, high]
    with django_assert_num_queries(0):  # cached for the next scores
        alert_rules_may_match([low], organisation_id=organisation.pk)
    AlertRuleFactory(min_risk_level="", min_score=None, amount_min=Decimal("1"))  # no score condition at all
    assert alert_rules_may_match([low, medium, high], organisation_id=organisation.pk) == [low, medium, high]
