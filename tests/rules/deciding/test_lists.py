"""Rules look values up in the organisation's lists as they are at the moment of scoring: an expired entry no longer
matches."""

from datetime import timedelta

import time_machine
from django.utils import timezone

from detection.models import Decision
from detection.scoring.services import score_transactions
from tests.detection.conftest import START, store_transaction
from tests.factories import ListEntryFactory, RiskPolicyFactory, ValueListFactory
from tests.rules.deciding.conftest import rule_in_force

AT = START + timedelta(days=10, hours=12)


def decision_of(account_id: str, minute: int) -> str:
    tx = store_transaction(account_id=account_id, amount="20.00", at=AT + timedelta(minutes=minute))
    return score_transactions(transactions=[tx])[0].decision


def test_a_listed_value_matches_until_its_entry_expires(active_model):
    RiskPolicyFactory(review_threshold=1.0)
    watched = ValueListFactory(name="stolen_accounts", kind="account")
    expiry = timezone.now() + timedelta(hours=1)
    ListEntryFactory(value_list=watched, value="acct-001", expires_at=expiry)
    ListEntryFactory(value_list=watched, value="acct-002")
    rule_in_force("account_id in lists.stolen_accounts", "block")

    assert [decision_of("acct-001", 1), decision_of("acct-002", 2), decision_of("acct-003", 3)] == [
        Decision.BLOCK,
        Decision.BLOCK,
        Decision.ALLOW,
    ]
    with time_machine.travel(expiry + timedelta(seconds=1)):
        assert [decision_of("acct-001", 4), decision_of("acct-002", 5)] == [Decision.ALLOW, Decision.BLOCK]


def test_a_rule_reading_a_list_that_is_gone_is_not_run_and_scoring_goes_on(active_model):
    RiskPolicyFactory(review_threshold=1.0)
    watched = ValueListFactory(name="stolen_accounts", kind="account")
    ListEntryFactory(value_list=watched, value="acct-001")
    rule_in_force("account_id in lists.stolen_accounts", "block", name="stolen")
    rule_in_force("amount > 10", "review", name="any_amount")
    watched.delete()

    tx = store_transaction(account_id="acct-001", amount="20.00", at=AT)
    score = score_transactions(transactions=[tx])[0]

    assert (score.decision, [rule["name"] for rule in score.rules]) == (Decision.REVIEW, ["any_amount"])
