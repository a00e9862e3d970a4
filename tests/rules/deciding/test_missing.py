"""A row lacking a value a rule reads does not match that rule, is recorded for the rule's count, and never fails
the request."""

from datetime import timedelta

from detection.models import Decision, Score
from detection.scoring.services import score_transactions
from tests.detection.conftest import START, prototype_body, store_transaction
from tests.factories import RiskPolicyFactory
from tests.rules.deciding.conftest import rule_in_force

AT = START + timedelta(days=10, hours=12)


def test_a_row_without_the_attribute_does_not_match_and_is_recorded_as_missing(active_model):
    RiskPolicyFactory(review_threshold=1.0)
    version = rule_in_force('attributes.mcc == "7995"', "block", name="gambling")
    with_it = store_transaction(account_id="acct-001", amount="20.00", at=AT, attributes={"mcc": "7995"})
    without = store_transaction(account_id="acct-002", amount="20.00", at=AT)

    matched, lacking = score_transactions(transactions=[with_it, without])

    entry = {"id": version.rule_id, "name": "gambling", "version": 1, "action": "block"}
    assert (matched.decision, matched.rules) == (Decision.BLOCK, [entry])
    assert (lacking.decision, lacking.rules) == (Decision.ALLOW, [entry | {"missing": True}])
    assert lacking.matched_rules == [] and lacking.deciding_rules == []


def test_a_request_lacking_the_attribute_is_answered_with_the_models_decision(scorer, active_model):
    RiskPolicyFactory(review_threshold=1.0)
    rule_in_force('attributes.mcc == "7995" and amount > 1', "block", name="gambling")

    response = scorer.post("/api/v1/transactions/score", prototype_body(), format="json")

    assert response.status_code == 201, response.content
    assert (response.json()["decision"], response.json()["rules"]) == ("allow", [])
    stored = Score.objects.get(transaction__transaction_id="TXN_00000001")
    assert [rule.get("missing") for rule in stored.rules] == [True]


def test_an_attribute_of_another_type_does_not_match(scorer, active_model):
    RiskPolicyFactory(review_threshold=1.0)
    rule_in_force('attributes.mcc == "7995"', "block")

    response = scorer.post("/api/v1/transactions/score", prototype_body(mcc=7995), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["decision"] == "allow"


def test_in_a_batch_each_row_is_decided_on_its_own_values(scorer, active_model):
    RiskPolicyFactory(review_threshold=1.0)
    rule_in_force('attributes.mcc == "7995"', "block", name="gambling")
    rows = [prototype_body(1, mcc="7995"), prototype_body(2), prototype_body(3, mcc="5411")]

    response = scorer.post("/api/v1/transactions/score/batch", {"transactions": rows}, format="json")

    assert response.status_code == 200, response.content
    assert [item["decision"] for item in response.json()["results"]] == ["block", "allow", "allow"]
    assert [len(item["rules"]) for item in response.json()["results"]] == [1, 0, 0]
