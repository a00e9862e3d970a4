"""The decision: allow > block > review > the model's thresholds; a tag rule never decides."""

from datetime import timedelta

import pytest

from detection.models import Decision
from detection.scoring.services import score_transactions
from review.models import ReviewItem
from tests.detection.conftest import START, store_transaction
from tests.factories import RiskPolicyFactory, default_organisation
from tests.rules.deciding.conftest import rule_in_force

AT = START + timedelta(days=10, hours=12)


def scored(amount: str = "950.00", **fields):
    tx = store_transaction(account_id="acct-001", amount=amount, at=AT, **fields)
    return score_transactions(transactions=[tx])[0]


def names(score) -> list[str]:
    return [rule["name"] for rule in score.rules]


def test_without_a_rule_in_force_the_models_thresholds_decide(active_model):
    score = scored()

    assert score.decision == (Decision.REVIEW if score.score >= 0.95 else Decision.ALLOW)
    assert score.is_anomaly == (score.decision == Decision.REVIEW)
    assert score.rules == []


def test_the_model_blocks_above_the_block_threshold(active_model):
    RiskPolicyFactory(review_threshold=0.0, block_threshold=0.0)

    score = scored()

    assert (score.decision, score.is_anomaly) == (Decision.BLOCK, True)


def test_a_review_rule_queues_a_score_the_model_would_allow(active_model):
    rule_in_force("amount > 900", "review", name="big_amounts")

    score = scored()

    assert score.decision == Decision.REVIEW and score.is_anomaly
    assert score.rules == [{"id": score.rules[0]["id"], "name": "big_amounts", "version": 1, "action": "review"}]
    assert ReviewItem.objects.filter(score=score).exists()


def test_block_beats_review(active_model):
    rule_in_force("amount > 900", "review", name="big_amounts")
    rule_in_force('account_id == "acct-001"', "block", name="stolen_card")

    score = scored()

    assert score.decision == Decision.BLOCK and score.is_anomaly
    assert names(score) == ["big_amounts", "stolen_card"]


def test_allow_beats_block_and_is_not_queued_whatever_the_score(active_model):
    RiskPolicyFactory(review_threshold=0.0)  # the model alone would queue every score
    rule_in_force('account_id == "acct-001"', "block", name="stolen_card")
    rule_in_force('merchant_id == "m-test"', "allow", name="our_test_merchant")

    score = scored(merchant_id="m-test")

    assert (score.decision, score.is_anomaly) == (Decision.ALLOW, False)
    assert names(score) == ["our_test_merchant", "stolen_card"]
    assert score.deciding_rules == [r for r in score.rules if r["name"] == "our_test_merchant"]
    assert not ReviewItem.objects.filter(score=score).exists()


def test_a_tag_rule_never_decides_and_adds_its_tag(active_model):
    RiskPolicyFactory(review_threshold=1.0)
    rule_in_force("amount > 900", "tag", name="large", tag="large_ticket")
    rule_in_force("amount > 900", "tag", name="untagged")

    score = scored()

    assert (score.decision, score.is_anomaly) == (Decision.ALLOW, False)
    assert score.tags == ["large_ticket", "untagged"]
    assert [rule["action"] for rule in score.rules] == ["tag", "tag"]


def test_a_rule_that_does_not_match_leaves_the_decision_to_the_model(active_model):
    RiskPolicyFactory(review_threshold=1.0)
    rule_in_force("amount > 5000", "block")

    score = scored()

    assert (score.decision, score.rules) == (Decision.ALLOW, [])


def test_another_organisations_rules_never_decide(active_model, other_organisation):
    RiskPolicyFactory(review_threshold=1.0)
    rule_in_force("amount > 0", "block", organisation=other_organisation)

    score = scored()

    assert (score.decision, score.rules) == (Decision.ALLOW, [])
    assert default_organisation().pk != other_organisation.pk


@pytest.mark.parametrize("action", ["allow", "block", "review"])
def test_every_deciding_action_decides_alone(active_model, action):
    RiskPolicyFactory(review_threshold=1.0)
    rule_in_force("amount > 900", action)

    assert scored().decision == action
