"""The decision in every score answer and store: single and batch answers, the stored score, a re-send, a read."""

import pytest

from detection.models import Score
from rules.deciding.ruleset import rule_sets_forget
from rules.models import RuleVersion
from tests.detection.conftest import prototype_body
from tests.factories import RiskPolicyFactory, RuleFactory, RuleVersionFactory
from transactions.models import Transaction

SINGLE = "/api/v1/transactions/score"
BATCH = "/api/v1/transactions/score/batch"


@pytest.fixture
def rules_in_force(db):
    """A block rule on large amounts and a tag rule on every online payment; the model alone never flags."""
    RiskPolicyFactory(review_threshold=1.0)
    block = RuleVersionFactory(
        rule=RuleFactory(name="large_amounts"), expression="amount > 1000", action="block", status="active"
    )
    tag = RuleVersionFactory(
        rule=RuleFactory(name="online"), expression='channel == "online"', action="tag", tag="web", status="active"
    )
    rule_sets_forget()
    return {"block": block, "tag": tag}


def entry(version: RuleVersion) -> dict:
    return {"id": version.rule_id, "name": version.rule.name, "version": version.version, "action": version.action}


def test_a_single_answer_carries_the_decision_the_rules_and_the_tags(scorer, active_model, rules_in_force):
    response = scorer.post(SINGLE, prototype_body(amount=1500, is_online=1), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["decision"], body["is_anomaly"]) == ("block", True)
    assert body["rules"] == [entry(rules_in_force["block"]), entry(rules_in_force["tag"])]
    assert body["tags"] == ["web"]


def test_the_decision_and_rules_are_stored_with_the_score(scorer, active_model, rules_in_force):
    scorer.post(SINGLE, prototype_body(amount=1500), format="json")

    stored = Score.objects.get(transaction__transaction_id="TXN_00000001")
    assert (stored.decision, stored.is_anomaly) == ("block", True)
    assert stored.rules == [entry(rules_in_force["block"])]


def test_a_score_without_a_matching_rule_answers_the_models_decision(scorer, active_model, rules_in_force):
    response = scorer.post(SINGLE, prototype_body(amount=20), format="json")

    body = response.json()
    assert (body["decision"], body["rules"], body["tags"], body["is_anomaly"]) == ("allow", [], [], False)


def test_without_rules_the_answer_says_what_the_flag_says(scorer, active_model):
    body = scorer.post(SINGLE, prototype_body(), format="json").json()

    assert body["decision"] == ("review" if body["is_anomaly"] else "allow")
    assert (body["rules"], body["tags"]) == ([], [])


def test_a_batch_answer_carries_each_items_decision_and_rules(scorer, active_model, rules_in_force):
    items = [prototype_body(1, amount=1500), prototype_body(2, amount=20, is_online=1), prototype_body(3, amount=-1)]

    response = scorer.post(BATCH, {"transactions": items}, format="json")

    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [(r["index"], r["decision"], r["tags"]) for r in results] == [(0, "block", []), (1, "allow", ["web"])]
    assert results[0]["rules"] == [entry(rules_in_force["block"])]
    assert results[1]["rules"] == [entry(rules_in_force["tag"])]
    stored = dict(Score.objects.values_list("transaction__transaction_id", "decision"))
    assert stored == {"TXN_00000001": "block", "TXN_00000002": "allow"}


def test_a_large_batch_stores_decisions_through_copy(scorer, active_model, rules_in_force):
    items = [prototype_body(n, amount=1500 if n % 2 else 20) for n in range(1, 252)]  # more than COPY_ABOVE rows

    response = scorer.post(BATCH, {"transactions": items}, format="json")

    assert response.status_code == 200, response.content
    answered = {r["transaction_id"]: r["decision"] for r in response.json()["results"]}
    stored = dict(Score.objects.values_list("transaction__transaction_id", "decision"))
    assert stored == answered
    assert set(answered.values()) == {"block", "allow"}
    assert Score.objects.filter(decision="block", rules=[entry(rules_in_force["block"])]).count() == 126


def test_a_score_stored_before_keeps_its_decision_when_sent_again(scorer, active_model, rules_in_force):
    first = scorer.post(SINGLE, prototype_body(amount=1500), format="json").json()
    RuleVersion.objects.filter(pk=rules_in_force["block"].pk).update(status=RuleVersion.Status.DISABLED)
    rule_sets_forget()

    again = scorer.post(SINGLE, prototype_body(amount=1500), format="json")
    in_batch = scorer.post(BATCH, {"transactions": [prototype_body(amount=1500)]}, format="json").json()

    assert again.status_code == 200
    assert again.json() == first
    assert (in_batch["results"][0]["decision"], in_batch["results"][0]["rules"]) == ("block", first["rules"])


def test_reading_a_transaction_shows_its_decision_and_rules(scorer, active_model, rules_in_force):
    scorer.post(SINGLE, prototype_body(amount=1500), format="json")

    response = scorer.get("/api/v1/transactions/TXN_00000001")

    assert response.status_code == 200
    score = response.json()["score"]
    assert (score["decision"], score["rules"], score["tags"]) == ("block", [entry(rules_in_force["block"])], [])


def test_a_score_stored_before_decisions_existed_answers_what_its_flag_stood_for(scorer, active_model):
    scorer.post(SINGLE, prototype_body(), format="json")
    tx = Transaction.objects.get(transaction_id="TXN_00000001")
    Score.objects.filter(transaction=tx).update(decision="", rules=[], is_anomaly=True)

    body = scorer.get("/api/v1/transactions/TXN_00000001").json()["score"]

    assert (body["decision"], body["rules"]) == ("review", [])
