"""insert_returning: the same rows stored and returned whether they travel as arrays or through COPY."""

import math
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from core import bulk_insert
from tests.factories import default_organisation
from transactions import bulk
from transactions.bulk import insert_rows
from transactions.models import Source, Transaction
from transactions.validation import PLACE_FIELDS

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
        **{name: None if name.endswith(("latitude", "longitude")) else "" for name in PLACE_FIELDS},
        "shipping_country": "DE" if i % 2 else "",
        "shipping_latitude": 52.5 if i % 2 else None,
        "attributes": {"note": "line\nbreak", "n": i},
        "label": 1 if i % 5 == 0 else None,
        "labelled_at": AT,
        **extra,
    }


@pytest.mark.django_db
@pytest.mark.parametrize("count", [3, bulk_insert.COPY_ABOVE + 50])
def test_rows_are_stored_the_same_by_arrays_and_by_copy(count):
    source = Source.objects.create(organisation=default_organisation(), name=f"bulk-{count}")
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
    source = Source.objects.create(organisation=default_organisation(), name=f"again-{count}")
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
    source = Source.objects.create(organisation=default_organisation(), name="staging")
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


def _stored(source: Source) -> dict[str, tuple]:
    columns = [f.attname for f in Transaction._meta.concrete_fields if f.attname not in ("id", "source_id")]
    columns = [name for name in columns if name not in ("ingested_at", "change_txid")]
    return {row[0]: row for row in Transaction.objects.filter(source=source).values_list(*columns)}


def tricky_row(i: int) -> dict:
    texts = ["plain", "tab\there", "new\nline\rcr", "back\\slash\\N", "bell\b\f\v", "nel\x85 sep\u2028", "é€😀", ""]
    text = texts[i % len(texts)]
    floats = [None, 0.0, -0.0, 1e-300, 48.856613, -180.0, 1e308, math.inf, 0.1 + 0.2]
    return clean_row(
        i,
        transaction_id=f"{text}-{i}",
        timestamp=AT.replace(microsecond=i * 7919 % 1_000_000),
        account_id=text or "acct",
        amount=[Decimal("0.00"), Decimal("-0.00"), Decimal("12.35"), Decimal("1E+3"), Decimal("999999999999.99")][
            i % 5
        ],
        merchant_id=text,
        merchant_category=text[:64],
        device_id=text,
        latitude=[None, 12.5, -0.0][i % 3],
        location_distance_km=floats[i % len(floats)],
        attributes=[{}, {"t": text, "q": 'a"b', "n": None, "x": [1, 2.5, {"k": "\\"}]}, {"n": i}][i % 3],
    )


@pytest.mark.django_db
def test_copy_lines_store_what_psycopgs_row_writer_stores():
    by_lines, by_writer = (
        Source.objects.create(organisation=default_organisation(), name="lines"),
        Source.objects.create(organisation=default_organisation(), name="writer"),
    )
    rows = [tricky_row(i) for i in range(bulk_insert.COPY_ABOVE + 30)]

    insert_rows(source_id=by_lines.pk, rows=rows, label_source="reported")
    _insert_plain(by_writer, rows)

    stored = _stored(by_lines)
    assert stored == _stored(by_writer) and len(stored) == len(rows)
    assert [repr(value) for value in stored["tab\there-1"]] == [
        repr(value) for value in _stored(by_writer)["tab\there-1"]
    ]
    assert (
        Transaction.objects.get(source=by_lines, transaction_id="back\\slash\\N-3").attributes == rows[3]["attributes"]
    )


def _insert_plain(source: Source, rows: list[dict]) -> list[tuple]:
    return bulk_insert.insert_returning(
        table=bulk.TABLE,
        into=bulk.INSERT_COLUMNS,
        columns=bulk._ROW_TYPES,
        rows=[bulk._row_values(row, source.pk, "reported") for row in rows],
        select=f"{', '.join(f's.{name}' for name, _ in bulk._ROW_TYPES)}, now()",
        suffix="RETURNING transaction_id",
    )


@pytest.mark.django_db
def test_a_second_large_call_in_one_transaction_stages_only_its_own_rows():
    source = Source.objects.create(organisation=default_organisation(), name="two-calls")
    many = bulk_insert.COPY_ABOVE + 10

    first = _insert_plain(source, [clean_row(i) for i in range(many)])
    second = _insert_plain(source, [clean_row(many + i) for i in range(many)])  # the first's rows again would conflict

    assert sorted(second) == sorted((f"t-{many + i}",) for i in range(many)) and len(first) == many


@pytest.mark.django_db
def test_a_large_call_with_some_ids_stored_before_stores_just_the_rest():
    source = Source.objects.create(organisation=default_organisation(), name="some-before")
    count = bulk_insert.COPY_ABOVE + 20
    first = insert_rows(source_id=source.pk, rows=[clean_row(i) for i in range(0, count, 2)], label_source="reported")

    again = insert_rows(source_id=source.pk, rows=[clean_row(i) for i in range(count)], label_source="reported")

    assert {tx_id: pk for tx_id, (pk, created) in again.items() if not created} == {
        tx_id: pk for tx_id, (pk, _) in first.items()
    }
    assert sorted(tx_id for tx_id, (_, created) in again.items() if created) == sorted(
        f"t-{i}" for i in range(1, count, 2)
    )
    assert Transaction.objects.filter(source=source).count() == count  # and the transaction is still usable


@pytest.mark.django_db
def test_an_id_twice_in_a_large_call_stores_its_first_row():
    source = Source.objects.create(organisation=default_organisation(), name="twice")
    rows = [clean_row(i) for i in range(bulk_insert.COPY_ABOVE + 5)] + [clean_row(3, amount=Decimal("99.00"))]

    outcome = insert_rows(source_id=source.pk, rows=rows, label_source="reported")

    assert len(outcome) == len(rows) - 1 and all(created for _, created in outcome.values())
    assert Transaction.objects.get(pk=outcome["t-3"][0]).amount == Decimal("15.34")


@pytest.mark.django_db
def test_a_large_call_for_a_missing_source_is_refused():
    rows = [clean_row(i) for i in range(bulk_insert.COPY_ABOVE + 5)]

    with pytest.raises(IntegrityError, match="is not present in table"):
        insert_rows(source_id=987654321, rows=rows, label_source="reported")


@pytest.mark.django_db(transaction=True)
def test_two_senders_of_the_same_large_batch_store_each_row_once():
    source = Source.objects.create(organisation=default_organisation(), name="race")
    count = bulk_insert.COPY_ABOVE + 10
    stored_uncommitted, outcomes = threading.Event(), {}

    def first():
        try:
            with transaction.atomic():
                outcomes["first"] = insert_rows(
                    source_id=source.pk, rows=[clean_row(i) for i in range(count)], label_source="reported"
                )
                stored_uncommitted.set()
                time.sleep(0.5)  # the second sender's INSERT waits on these rows' unique index entries meanwhile
        finally:
            stored_uncommitted.set()
            connection.close()

    def second():
        stored_uncommitted.wait(timeout=30)
        try:
            with transaction.atomic():
                rows = [clean_row(i) for i in range(5, count + 5)]
                outcomes["second"] = insert_rows(source_id=source.pk, rows=rows, label_source="reported")
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(created for _, created in outcomes["first"].values())
    assert {tx_id: pk for tx_id, (pk, created) in outcomes["second"].items() if not created} == {
        f"t-{i}": outcomes["first"][f"t-{i}"][0] for i in range(5, count)
    }
    assert sorted(tx_id for tx_id, (_, created) in outcomes["second"].items() if created) == sorted(
        f"t-{i}" for i in range(count, count + 5)
    )
    assert Transaction.objects.filter(source=source).count() == count + 5


TRICKY = {
    "text": ["plain", "", "NULL", 'say "hi"', "back\\slash", "a,b {c}", " padded ", "tab\tnew\nline", "é 🎉", None],
    "bigint": [0, -1, 2**63 - 1, None, 42],
    "smallint": [0, 1, None],
    "float8": [0.1, -0.0, 1e-300, 1.7976931348623157e308, math.nan, math.inf, -math.inf, None, 1 / 3],
    "numeric": [Decimal("12.34"), Decimal("-0.01"), Decimal("1E+3"), Decimal("NaN"), None],
    "boolean": [True, False, None],
    "timestamptz": [AT, datetime(2026, 3, 1, 13, 0, 0, 123456, tzinfo=UTC), None],
    "jsonb": ['{"a": "x\\"y"}', "[]", None],
}


@pytest.mark.django_db
@pytest.mark.parametrize("kind", sorted(TRICKY))
def test_an_array_literal_reads_back_as_psycopgs_own_array_does(kind):
    values = TRICKY[kind]
    literal = bulk_insert.array_literal(values)
    assert isinstance(literal, str)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT %s::{kind}[]::text, %s::{kind}[]::text", [literal, list(values)])
        ours, psycopgs = cursor.fetchone()
    assert ours == psycopgs


def test_an_array_of_values_it_does_not_spell_goes_to_psycopg_as_a_list():
    assert bulk_insert.array_literal([1, {"a": 1}]) == [1, {"a": 1}]
