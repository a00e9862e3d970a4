"""insert_returning: the same rows stored and returned whether they travel as arrays or through COPY."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection, transaction

from anomaly_site import bulk_insert
from transactions.bulk import insert_rows
from transactions.models import Source, Transaction

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def clean_row(i: int, **extra) -> dict:
    return {
        "transaction_id": f"t-{i}",
        "timestamp": AT,
        "account_id": f"acct\t{i % 7}",  # a tab and quotes must survive COPY's text format
        "amount": Decimal("12.34") + i,
        "currency": "EUR",
        "merchant_id": 'shop "a"' if i % 2 else "",
        "merchant_category": "",
        "channel": "online",
        "latitude": None,
        "longitude": None,
        "location_distance_km": 1.5 if i % 3 else None,
        "country": "FR",
        "device_id": "",
        "attributes": {"note": "line\nbreak", "n": i},
        "label": 1 if i % 5 == 0 else None,
        "labelled_at": AT,
        **extra,
    }


@pytest.mark.django_db
@pytest.mark.parametrize("count", [3, bulk_insert.COPY_ABOVE + 50])
def test_rows_are_stored_the_same_by_arrays_and_by_copy(count):
    source = Source.objects.create(name=f"bulk-{count}")
    rows = [clean_row(i) for i in range(count)]
    outcome = insert_rows(source_id=source.pk, rows=rows, label_source="reported")
    assert len(outcome) == count and all(created for _, created in outcome.values())
    stored = Transaction.objects.get(pk=outcome["t-1"][0])
    assert (stored.account_id, stored.merchant_id, stored.amount) == ("acct\t1", 'shop "a"', Decimal("13.34"))
    assert stored.attributes == {"note": "line\nbreak", "n": 1}
    assert (stored.latitude, stored.location_distance_km, stored.label) == (None, 1.5, None)
    labelled = Transaction.objects.get(pk=outcome["t-0"][0])
    assert (labelled.label, labelled.label_source, labelled.labelled_at) == (1, "reported", AT)


@pytest.mark.django_db
@pytest.mark.parametrize("count", [3, bulk_insert.COPY_ABOVE + 50])
def test_rows_sent_again_are_reported_existing_and_not_stored_twice(count):
    source = Source.objects.create(name=f"again-{count}")
    first = insert_rows(source_id=source.pk, rows=[clean_row(i) for i in range(count)], label_source="reported")
    rows = [clean_row(i) for i in range(count + 2)] + [clean_row(0)]
    again = insert_rows(source_id=source.pk, rows=rows, label_source="reported")
    assert {tx_id: pk for tx_id, (pk, _) in again.items() if tx_id in first} == {
        tx_id: pk for tx_id, (pk, _) in first.items()
    }
    assert [tx_id for tx_id, (_, created) in again.items() if created] == [f"t-{count}", f"t-{count + 1}"]
    assert Transaction.objects.filter(source=source).count() == count + 2


def _staged_tables() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relname LIKE 'staging_%%' AND relpersistence = 't'")
        return [name for (name,) in cursor.fetchall()]


@pytest.mark.django_db(transaction=True)
def test_the_staging_table_outlives_a_commit_empty_and_a_rolled_back_call_leaves_nothing():
    source = Source.objects.create(name="staging")
    many = bulk_insert.COPY_ABOVE + 10
    with transaction.atomic():
        first = insert_rows(source_id=source.pk, rows=[clean_row(i) for i in range(many)], label_source="reported")
    assert len(_staged_tables()) == 1  # kept for the session's next call, emptied at the commit
    with pytest.raises(RuntimeError), transaction.atomic():
        insert_rows(source_id=source.pk, rows=[clean_row(1000 + i) for i in range(many)], label_source="reported")
        raise RuntimeError("rolled back")
    with transaction.atomic():
        again = insert_rows(source_id=source.pk, rows=[clean_row(2000 + i) for i in range(many)], label_source="x")
    assert sorted(again) == sorted(f"t-{2000 + i}" for i in range(many))
    assert all(created for _, created in again.values()) and len(first) == many
    stored = set(Transaction.objects.filter(source=source).values_list("transaction_id", flat=True))
    assert stored == {f"t-{i}" for i in range(many)} | {f"t-{2000 + i}" for i in range(many)}
