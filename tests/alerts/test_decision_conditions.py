"""Alert rules that fire on a score's decision and on a given decision rule having matched."""

import numpy as np
import pytest
from django.urls import reverse

from alerts.models import Alert, AlertRule, AuditEvent
from alerts.selectors import alert_rules_screen
from alerts.services import alerts_evaluate, alerts_evaluate_stored
from detection.scoring.events import ScoresStored
from tests.alerts.helpers import T0
from tests.alerts.test_admin import _rule_form
from tests.factories import AlertRuleFactory, RuleFactory, ScoreFactory, TransactionFactory, default_organisation

pytestmark = pytest.mark.django_db


def scored(*, decision: str, rules=(), score=0.97, risk_level="high", is_anomaly=True):
    """A committed score of a new transaction with this decision and these stored rules."""
    return ScoreFactory(
        transaction=TransactionFactory(timestamp=T0),
        decision=decision,
        rules=list(rules),
        score=score,
        risk_level=risk_level,
        is_anomaly=is_anomaly,
    )


def entry(rule, **extra) -> dict:
    return {"id": rule.pk, "name": rule.name, "version": 1, "action": "block", **extra}


def alerted(rule: AlertRule, scores) -> set[int]:
    alerts_evaluate(score_ids=[s.pk for s in scores], organisation_id=rule.organisation_id)
    return set(Alert.objects.filter(rule=rule).values_list("score_id", flat=True))


def test_a_rule_on_decisions_fires_only_on_those_decisions():
    alert_rule = AlertRuleFactory(min_risk_level="", decisions=["block"])
    blocked = scored(decision="block", risk_level="low", score=0.1)
    reviewed = scored(decision="review")

    assert alerted(alert_rule, [blocked, reviewed]) == {blocked.pk}


def test_a_score_stored_before_decisions_counts_as_what_its_flag_stood_for():
    alert_rule = AlertRuleFactory(min_risk_level="", decisions=["review"])
    flagged = scored(decision="", is_anomaly=True)
    unflagged = scored(decision="", is_anomaly=False, score=0.1, risk_level="low")

    assert alerted(alert_rule, [flagged, unflagged]) == {flagged.pk}


def test_a_rule_on_a_decision_rule_fires_when_that_rule_matched():
    watched, other = RuleFactory(name="watched"), RuleFactory(name="other")
    alert_rule = AlertRuleFactory(min_risk_level="")
    alert_rule.matched_rules.set([watched])
    hit = scored(decision="block", rules=[entry(other), entry(watched)])
    lacking = scored(decision="allow", rules=[entry(watched, missing=True)])
    elsewhere = scored(decision="block", rules=[entry(other)])
    none = scored(decision="allow")

    assert alerted(alert_rule, [hit, lacking, elsewhere, none]) == {hit.pk}


def test_decision_and_rule_conditions_both_hold_when_both_are_set():
    watched = RuleFactory(name="watched")
    alert_rule = AlertRuleFactory(min_risk_level="", decisions=["allow"])
    alert_rule.matched_rules.set([watched])
    allowed = scored(decision="allow", rules=[entry(watched, action="allow")])
    blocked = scored(decision="block", rules=[entry(watched)])

    assert alerted(alert_rule, [allowed, blocked]) == {allowed.pk}


def test_the_screen_lets_through_only_scores_a_rule_may_match():
    watched = RuleFactory(name="watched")
    AlertRuleFactory(min_risk_level="", decisions=["block"])
    AlertRuleFactory(min_risk_level="").matched_rules.set([watched])

    keep = alert_rules_screen(
        [0.1, 0.1, 0.1, 0.1],
        ["low"] * 4,
        organisation_id=default_organisation().pk,
        decisions=["block", "allow", "allow", "review"],
        rules=[[], [entry(watched)], [entry(watched, missing=True)], []],
    )

    assert keep.tolist() == [True, True, False, False]


def test_stored_scores_carry_their_decisions_to_the_screen(django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    monkeypatch.setattr("alerts.services._enqueue_evaluation", lambda ids, org: queued.append(ids))
    AlertRuleFactory(min_risk_level="", decisions=["block"])
    scores = [scored(decision="block"), scored(decision="allow")]
    event = ScoresStored(
        organisation_id=default_organisation().pk,
        transaction_ids=np.array([s.transaction_id for s in scores]),
        score_ids=np.array([s.pk for s in scores]),
        scores=np.array([s.score for s in scores]),
        risk_levels=[s.risk_level for s in scores],
        flagged=np.array([True, False]),
        amounts=np.array([float(s.transaction.amount) for s in scores]),
        decisions=["block", "allow"],
        rules=[[], []],
    )

    with django_capture_on_commit_callbacks(execute=True):
        alerts_evaluate_stored(event)

    assert queued == [[scores[0].pk]]


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_admin_saves_decision_conditions_and_audits_them(admin_client):
    watched = RuleFactory(name="watched")
    form = _rule_form(decisions=["block", "review"], matched_rules=[watched.pk])

    response = admin_client.post(reverse("admin:alerts_alertrule_add"), form)

    assert response.status_code == 302, response.content
    alert_rule = AlertRule.objects.get(name="big online")
    assert alert_rule.decisions == ["block", "review"]
    assert list(alert_rule.matched_rules.all()) == [watched]
    audit = AuditEvent.objects.get(action="rule.create")
    assert (audit.after["decisions"], audit.after["matched_rules"]) == (["block", "review"], [watched.pk])


def test_admin_refuses_another_organisations_decision_rule(admin_client, other_organisation):
    theirs = RuleFactory(name="theirs", organisation=other_organisation)

    response = admin_client.post(reverse("admin:alerts_alertrule_add"), _rule_form(matched_rules=[theirs.pk]))

    assert response.status_code == 200
    assert "matched_rules" in response.context["adminform"].form.errors
    assert not AlertRule.objects.exists()


def test_admin_lists_the_decision_conditions(admin_client):
    watched = RuleFactory(name="watched")
    alert_rule = AlertRuleFactory(min_risk_level="", decisions=["block"])
    alert_rule.matched_rules.set([watched])

    response = admin_client.get(reverse("admin:alerts_alertrule_changelist"))

    assert "decided block; rule watched matched" in response.content.decode()
