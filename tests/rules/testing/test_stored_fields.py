"""A test on history reads the device and the currency from the stored transactions, as scoring does."""

from datetime import timedelta

from rules.testing.services import rule_test_run
from tests.rules.testing.conftest import UNTIL, draft
from transactions.models import Transaction


def run(version, days=7):
    return rule_test_run(version=version, days=days, until=UNTIL)


def test_a_rule_on_the_device_counts_its_hits_and_the_rows_without_one(organisation, known_history):
    Transaction.objects.filter(pk__in=[t.pk for t in known_history[:4]]).update(device_id="dev-9")
    Transaction.objects.filter(pk__in=[t.pk for t in known_history[4:7]]).update(device_id="dev-1")

    report = run(draft(organisation, expression='device_id == "dev-9"'))

    assert (report["hits"], report["missing"]) == (4, 3)


def test_a_rule_on_the_currency_counts_its_hits(organisation, known_history):
    Transaction.objects.filter(pk__in=[t.pk for t in known_history[::2]]).update(currency="USD")

    report = run(draft(organisation, expression='currency == "USD"'))

    assert report["hits"] == 5


def test_first_device_counts_a_device_new_to_the_account(organisation, known_history):
    # acct-0 holds rows 0, 3, 6, 9: the same device, then a new one at row 9; its first row is its first ever.
    Transaction.objects.filter(pk__in=[t.pk for t in known_history]).update(device_id="dev-home")
    Transaction.objects.filter(pk=known_history[9].pk).update(device_id="dev-new")
    earlier = known_history[0].timestamp - timedelta(days=5)
    Transaction.objects.filter(pk=known_history[1].pk).update(timestamp=earlier)  # out of the window: history only

    report = run(draft(organisation, expression="first_device_for_account"))

    assert report["hits"] == 1
    assert report["sample"] == [known_history[9].pk]


def test_the_merchants_totals_are_counted_from_the_stored_history(organisation, known_history):
    # One merchant for every row: its earlier rows of the same day are within 24 hours (the days are 24 h apart).
    Transaction.objects.filter(pk__in=[t.pk for t in known_history]).update(merchant_id="shop")

    report = run(draft(organisation, expression="sum_24h_merchant >= 1000"))

    # Day 1: 600, 700, 20 → the third sees 1,300; day 3: 900, 550, 10, 15 → the last two see 1,450 and 1,460.
    assert report["hits"] == 3
    assert report["sample"] == [known_history[k].pk for k in (2, 8, 9)]
