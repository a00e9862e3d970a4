"""Drift alert rules: "drift above X" fires on a day's shifted feature, not on an unshifted one, once per rule, day
and feature, delivered by the same channels as the transaction rules, in the rule's own organisation only."""

import json
from datetime import date

import pytest
from django.urls import reverse

from alerts.models import Alert, AlertDelivery, AlertRule
from alerts.payloads import summary_text, webhook_payload
from alerts.services import alerts_evaluate, alerts_evaluate_drift
from monitoring.events import DriftMeasured
from monitoring.models import DriftMeasurement
from monitoring.services import drift_measure
from tests.factories import AlertRuleFactory, ModelVersionFactory, ScoreFactory
from tests.monitoring.conftest import LIKE_DAY, store_day

DAY = date(2026, 3, 20)


def drift_rule(**fields) -> AlertRule:
    return AlertRuleFactory(**{"kind": AlertRule.Kind.DRIFT, "drift_threshold": 0.25, "min_risk_level": ""} | fields)


def measured(organisation, **psi_by_feature) -> DriftMeasured:
    """Measurements of DAY with the given indexes, and the news of them."""
    version = ModelVersionFactory(organisation=organisation, status="active")
    rows = [
        DriftMeasurement.objects.create(
            organisation=organisation, version=version, day=DAY, feature=name, psi=psi, shares=[0.5, 0.5], rows=80
        )
        for name, psi in psi_by_feature.items()
    ]
    return DriftMeasured(organisation_id=organisation.pk, day=DAY, measurement_ids=tuple(m.pk for m in rows))


def test_a_drift_alert_fires_on_a_shifted_feature_and_not_on_an_unshifted_one(drift_model):
    rule = drift_rule(organisation=drift_model.organisation)
    store_day(day=LIKE_DAY, scale=20)

    drift_measure(organisation_id=drift_model.organisation_id, day=LIKE_DAY.date())

    fired = set(Alert.objects.filter(rule=rule).values_list("drift_feature", flat=True))
    assert "amount_log" in fired
    assert "hour_sin" not in fired and "is_online" not in fired
    assert AlertDelivery.objects.filter(rule=rule).count() == Alert.objects.filter(rule=rule).count()


def test_no_drift_alert_on_a_day_like_the_training_traffic_for_its_amounts(drift_model):
    rule = drift_rule(organisation=drift_model.organisation)
    store_day(day=LIKE_DAY)

    drift_measure(organisation_id=drift_model.organisation_id, day=LIKE_DAY.date())

    assert not Alert.objects.filter(rule=rule, drift_feature="amount_log").exists()


def test_a_drift_alert_fires_only_above_the_rules_threshold(organisation):
    rule = drift_rule(drift_threshold=0.3)

    alerts_evaluate_drift(measured(organisation, amount_log=0.31, hour_sin=0.3, is_online=0.01))

    assert list(Alert.objects.filter(rule=rule).values_list("drift_feature", "drift_day")) == [("amount_log", DAY)]


def test_a_day_measured_again_fires_nothing_twice(organisation):
    rule = drift_rule()
    event = measured(organisation, amount_log=0.9)

    alerts_evaluate_drift(event)
    alerts_evaluate_drift(event)

    assert Alert.objects.filter(rule=rule).count() == 1
    assert AlertDelivery.objects.filter(rule=rule).count() == 1


def test_a_drift_rule_of_another_organisation_does_not_fire(organisation, other_organisation):
    other_rule = drift_rule(organisation=other_organisation)

    alerts_evaluate_drift(measured(organisation, amount_log=0.9))

    assert not Alert.objects.filter(rule=other_rule).exists()


def test_a_disabled_drift_rule_does_not_fire(organisation):
    drift_rule(enabled=False)

    alerts_evaluate_drift(measured(organisation, amount_log=0.9))

    assert not Alert.objects.exists()


def test_a_transaction_rule_does_not_fire_on_drift(organisation):
    AlertRuleFactory(min_risk_level="")

    alerts_evaluate_drift(measured(organisation, amount_log=0.9))

    assert not Alert.objects.exists()


def test_a_drift_rule_does_not_fire_on_scores(db):
    drift_rule()

    alerts_evaluate(score_ids=[ScoreFactory().pk])

    assert not Alert.objects.exists()


def test_a_drift_rule_needs_its_threshold(organisation):
    rule = AlertRuleFactory.build(kind=AlertRule.Kind.DRIFT, drift_threshold=None, organisation=organisation)

    with pytest.raises(Exception, match="drift_threshold"):
        rule.full_clean()


def test_the_webhook_payload_of_a_drift_alert_names_the_feature_day_and_index(organisation):
    rule = drift_rule()
    alerts_evaluate_drift(measured(organisation, amount_log=0.9))
    delivery = AlertDelivery.objects.get(rule=rule)

    payload = json.loads(json.dumps(webhook_payload(delivery, list(delivery.alerts.all()))))

    item = payload["alerts"][0]
    assert item["kind"] == "drift"
    assert (item["feature"], item["day"], item["psi"], item["threshold"]) == ("amount_log", "2026-03-20", 0.9, 0.25)
    assert item["url"].endswith("/monitoring/drift/amount_log/")


def test_the_message_of_a_drift_alert_says_what_drifted(organisation):
    rule = drift_rule(name="features moved")
    alerts_evaluate_drift(measured(organisation, amount_log=0.9))
    delivery = AlertDelivery.objects.get(rule=rule)

    text = summary_text(delivery, list(delivery.alerts.all()))

    assert text.startswith("[Sentinel] features moved: 1 feature drifted")
    assert "DRIFT amount_log PSI 0.900 on 2026-03-20 (above 0.25)" in text


def test_an_in_app_drift_rule_raises_the_alert_without_a_delivery(organisation):
    rule = drift_rule(channel=AlertRule.Channel.IN_APP, destination="")

    alerts_evaluate_drift(measured(organisation, amount_log=0.9))

    assert Alert.objects.filter(rule=rule).count() == 1
    assert not AlertDelivery.objects.exists()


def test_the_bell_links_a_drift_alert_to_the_features_page(analyst_client, organisation):
    drift_rule(channel=AlertRule.Channel.IN_APP, destination="")
    alerts_evaluate_drift(measured(organisation, amount_log=0.9))

    response = analyst_client.get(reverse("alerts:bell"))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'href="/monitoring/drift/amount_log/?day=2026-03-20"' in page
    assert "amount_log · PSI 0.900 on 2026-03-20" in page
