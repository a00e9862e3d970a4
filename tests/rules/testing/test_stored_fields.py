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
