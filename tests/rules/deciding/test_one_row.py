"""A single score is decided on plain Python values (rules.language.Row, rules.deciding.services._decide_row): every
row of a batch, decided alone, gets the decision and the rules the batch gives it."""

from datetime import timedelta

from detection.scoring import adapters, registry
from detection.scoring.services import _Computed
from tests.detection.conftest import START, store_transaction
from tests.factories import ListEntryFactory, RiskPolicyFactory, ValueListFactory, default_organisation
from tests.rules.deciding.conftest import rule_in_force

AT = START + timedelta(days=10, hours=12)
ROWS = [  # (account, amount, merchant, channel, attributes)
    ("acct-001", "950.00", "m-999", "online", {"mcc": "7995"}),
    ("acct-002", "20.00", "m-bad", "in_person", {}),
    ("acct-003", "60.00", "m-ok", "online", {"mcc": 7995}),
    ("acct-004", "960.00", "m-ok", "atm", {"mcc": "5411"}),
    ("acct-005", "5.00", "m-999", "in_person", {}),
    ("acct-006", "1500.00", "m-bad", "online", {"mcc": "7995"}),
]


def test_each_row_decided_alone_gets_the_batch_decision_and_rules(active_model):
    RiskPolicyFactory(review_threshold=1.0)  # no rule matched: allowed
    watched = ValueListFactory(name="watched", kind="account")
    ListEntryFactory(value_list=watched, value="acct-002")
    ListEntryFactory(value_list=watched, value="acct-006")
    rule_in_force("amount > 900", "review", name="big_amounts")
    rule_in_force('merchant_id == "m-bad" or account_id in lists.watched', "block", name="bad")
    rule_in_force('merchant_id == "m-ok" and amount < 100', "allow", name="trusted")
    rule_in_force('attributes.mcc == "7995" and channel == "online"', "block", name="gambling")
    rule_in_force("amount > 50 and not (account_id in lists.watched)", "tag", name="over_50", tag="large")
    rule_in_force("attributes.mcc != null or amount / 0 > 1", "tag", name="never_sure", tag="odd")
    stored = [
        store_transaction(account_id=a, amount=x, at=AT + timedelta(minutes=k), merchant_id=m, channel=c, attributes=t)
        for k, (a, x, m, c, t) in enumerate(ROWS)
    ]
    organisation_id = default_organisation().pk
    detector = registry.active_model(organisation_id=organisation_id).detector

    whole = _Computed.of(
        detector,
        *adapters.frame_for_transactions(stored, organisation_id=organisation_id),
        organisation_id=organisation_id,
    )
    alone = [
        _Computed.of(
            detector,
            *adapters.frame_for_transactions([tx], organisation_id=organisation_id),
            organisation_id=organisation_id,
        )
        for tx in stored
    ]

    assert [one.decisions[0] for one in alone] == whole.decisions
    assert [one.rules[0] for one in alone] == whole.rules
    assert whole.decisions == ["block", "block", "allow", "review", "allow", "block"]
    assert [[rule["name"] for rule in rules if rule.get("missing")] for rules in whole.rules] == [
        [],
        ["never_sure"],  # no attribute, and a division by zero: missing
        ["gambling"],  # a number where text is compared: missing
        [],
        ["never_sure"],
        [],
    ]
