"""Rules read the device and the currency, which the engine's frame does not carry: from the stored transactions, in
one query for the whole batch, and only while a rule in force reads them."""

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext

from detection.models import Decision
from detection.scoring.services import score_transactions
from tests.detection.conftest import START, store_transaction
from tests.factories import ListEntryFactory, RiskPolicyFactory, ValueListFactory
from tests.rules.deciding.conftest import rule_in_force

AT = START + timedelta(days=10, hours=12)


def _stored_reads(queries) -> list[str]:
    return [q["sql"] for q in queries if "t.device_id, t.currency" in q["sql"]]


def test_a_device_on_a_device_list_is_blocked(active_model):
    RiskPolicyFactory(review_threshold=1.0)
    ListEntryFactory(value_list=ValueListFactory(name="stolen_devices", kind="device"), value="dev-9")
    rule_in_force("device_id in lists.stolen_devices", "block", name="stolen_device")
    listed = store_transaction(account_id="acct-001", amount="20.00", at=AT, device_id="dev-9")
    other = store_transaction(account_id="acct-002", amount="20.00", at=AT, device_id="dev-1")

    decided = score_transactions(transactions=[listed, other])

    assert [score.decision for score in decided] == [Decision.BLOCK, Decision.ALLOW]
    assert [rule["name"] for rule in decided[0].rules] == ["stolen_device"]


def test_a_row_without_a_device_does_not_match_and_is_recorded_as_missing(active_model):
    RiskPolicyFactory(review_threshold=1.0)
    rule_in_force('device_id != "dev-1"', "review", name="other_device")
    tx = store_transaction(account_id="acct-001", amount="20.00", at=AT)

    score = score_transactions(transactions=[tx])[0]

    assert score.decision == Decision.ALLOW
    assert [rule.get("missing") for rule in score.rules] == [True]


def test_a_rule_reads_the_currency(active_model):
    RiskPolicyFactory(review_threshold=1.0)
    rule_in_force('currency == "USD" and amount > 10', "review", name="dollars")
    dollars = store_transaction(account_id="acct-001", amount="20.00", at=AT, currency="USD")
    euros = store_transaction(account_id="acct-002", amount="20.00", at=AT, currency="EUR")

    decided = score_transactions(transactions=[dollars, euros])

    assert [score.decision for score in decided] == [Decision.REVIEW, Decision.ALLOW]


def test_first_device_matches_a_device_the_account_never_used_in_30_days(active_model):
    RiskPolicyFactory(review_threshold=1.0)
    rule_in_force("first_device_for_account", "review", name="new_device")
    for day in (1, 2, 3):
        store_transaction(account_id="acct-new", amount="20.00", at=AT - timedelta(days=day), device_id="dev-home")
    store_transaction(account_id="acct-new", amount="20.00", at=AT - timedelta(days=40), device_id="dev-old")
    known = store_transaction(account_id="acct-new", amount="21.00", at=AT, device_id="dev-home")
    new = store_transaction(account_id="acct-new", amount="22.00", at=AT + timedelta(minutes=1), device_id="dev-phone")
    older = store_transaction(account_id="acct-new", amount="23.00", at=AT + timedelta(minutes=2), device_id="dev-old")
    first_ever = store_transaction(account_id="acct-lone", amount="20.00", at=AT, device_id="dev-phone")

    decided = score_transactions(transactions=[known, new, older, first_ever])

    assert [score.decision for score in decided] == [
        Decision.ALLOW,
        Decision.REVIEW,
        Decision.REVIEW,  # used 40 days ago: outside the 30 days, as first_merchant_for_account counts
        Decision.ALLOW,  # the account's very first transaction
    ]


def test_the_device_and_currency_of_a_batch_are_read_in_one_query(active_model):
    RiskPolicyFactory(review_threshold=1.0)
    rule_in_force('first_device_for_account or currency == "USD"', "review")
    rows = [
        store_transaction(account_id=f"acct-{k:03d}", amount="20.00", at=AT, device_id=f"dev-{k}") for k in range(1, 9)
    ]

    with CaptureQueriesContext(connection) as queries:
        score_transactions(transactions=rows)

    assert len(_stored_reads(queries.captured_queries)) == 1


def test_no_stored_field_is_read_while_no_rule_reads_one(active_model):
    RiskPolicyFactory(review_threshold=1.0)
    rule_in_force("amount > 10 and first_merchant_for_account", "review")
    tx = store_transaction(account_id="acct-001", amount="20.00", at=AT, device_id="dev-1")

    with CaptureQueriesContext(connection) as queries:
        score_transactions(transactions=[tx])

    assert _stored_reads(queries.captured_queries) == []


def test_a_rule_reads_the_card_not_present_countries(active_model):
    RiskPolicyFactory(review_threshold=1.0)
    ListEntryFactory(value_list=ValueListFactory(name="risky_ip", kind="country"), value="NG")
    rule_in_force("shipping_country != billing_country or ip_country in lists.risky_ip", "review", name="cnp")
    abroad = store_transaction(
        account_id="acct-001", amount="20.00", at=AT, billing_country="FR", shipping_country="DE"
    )
    risky_ip = store_transaction(
        account_id="acct-002", amount="20.00", at=AT, billing_country="FR", shipping_country="FR", ip_country="NG"
    )
    at_home = store_transaction(
        account_id="acct-003", amount="20.00", at=AT, billing_country="FR", shipping_country="FR", ip_country="FR"
    )

    decided = score_transactions(transactions=[abroad, risky_ip, at_home])

    assert [score.decision for score in decided] == [Decision.REVIEW, Decision.REVIEW, Decision.ALLOW]
