"""Ingest one and many, idempotency (also under concurrency), and labelling."""

import threading
import time
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db import transaction as db_transaction

from tests.factories import SourceFactory, TransactionFactory, UserFactory
from transactions.models import LabelEvent, Transaction
from transactions.services import transaction_ingest, transaction_label, transactions_ingest_many
from transactions.validation import FieldError, Reason

BODY = {"transaction_id": "t-1", "timestamp": "2026-01-05 10:00:00", "account_id": "a1", "amount": "12.50"}


@pytest.mark.django_db
def test_ingest_stores_a_new_transaction():
    source = SourceFactory()

    result = transaction_ingest(source=source, data=BODY)

    assert result.created and result.ok
    assert Transaction.objects.get(source=source, transaction_id="t-1").amount == result.transaction.amount


@pytest.mark.django_db
def test_ingesting_the_same_id_twice_stores_one_row_and_says_so():
    source = SourceFactory()
    first = transaction_ingest(source=source, data=BODY)

    second = transaction_ingest(source=source, data={**BODY, "amount": "99"})

    assert second.created is False
    assert second.transaction.pk == first.transaction.pk
    assert Transaction.objects.filter(source=source).count() == 1


@pytest.mark.django_db
def test_the_same_id_from_another_source_is_another_transaction():
    transaction_ingest(source=SourceFactory(name="bank-a"), data=BODY)

    result = transaction_ingest(source=SourceFactory(name="bank-b"), data=BODY)

    assert result.created
    assert Transaction.objects.filter(transaction_id="t-1").count() == 2


@pytest.mark.django_db
def test_ingest_many_keeps_input_order_and_reports_bad_rows():
    source = SourceFactory()
    TransactionFactory(source=source, transaction_id="old")
    rows = [{**BODY, "transaction_id": "new"}, {**BODY, "amount": "-1"}, {**BODY, "transaction_id": "old"}]

    results = transactions_ingest_many(source=source, rows=rows)

    assert [(r.created, r.errors) for r in results] == [
        (True, []),
        (False, [FieldError("amount", Reason.NEGATIVE)]),
        (False, []),
    ]
    assert results[1].transaction is None
    assert Transaction.objects.filter(source=source).count() == 2


@pytest.mark.django_db
def test_ingest_many_counts_a_repeated_id_in_one_batch_once():
    source = SourceFactory()

    results = transactions_ingest_many(source=source, rows=[BODY, BODY])

    assert [r.created for r in results] == [True, False]
    assert results[0].transaction.pk == results[1].transaction.pk


@pytest.mark.django_db
def test_ingest_with_a_label_records_it_and_its_event():
    result = transaction_ingest(source=SourceFactory(), data={**BODY, "label": "fraud"})

    assert (result.transaction.label, result.transaction.label_source) == (1, "reported")
    assert result.transaction.labelled_at is not None
    assert list(LabelEvent.objects.values_list("label", "source")) == [(1, "reported")]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_ingests_of_the_same_id_store_one_row():
    source = SourceFactory()
    first_inserted, results = threading.Event(), {}

    def hold_open():
        with db_transaction.atomic():
            results["first"] = transaction_ingest(source=source, data=BODY)
            first_inserted.set()
            time.sleep(0.5)  # the second sender now waits on the unique index until this commits
        connection.close()

    def race():
        first_inserted.wait(5)
        results["second"] = transaction_ingest(source=source, data=BODY)
        connection.close()

    threads = [threading.Thread(target=hold_open), threading.Thread(target=race)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert (results["first"].created, results["second"].created) == (True, False)
    assert results["second"].transaction.pk == results["first"].transaction.pk
    assert Transaction.objects.filter(source=source, transaction_id="t-1").count() == 1


@pytest.mark.django_db(transaction=True)
def test_many_threads_ingesting_the_same_id_at_once_create_it_exactly_once():
    source = SourceFactory()
    start, created = threading.Barrier(4), []

    def send():
        start.wait(5)
        created.append(transaction_ingest(source=source, data=BODY).created)
        connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert sorted(created) == [False, False, False, True]
    assert Transaction.objects.filter(source=source).count() == 1


@pytest.mark.django_db
def test_label_sets_the_latest_label_and_appends_an_event():
    tx = TransactionFactory()
    analyst = UserFactory(username="labeller")
    at = datetime(2026, 2, 1, 9, tzinfo=UTC)
    transaction_label(transaction=tx, label=1, source="review", user=analyst, at=at)

    transaction_label(transaction=tx, label="legit", source="reported", note="customer confirmed")

    tx.refresh_from_db()
    assert (tx.label, tx.label_source) == (0, "reported")
    events = list(tx.label_events.order_by("created_at").values_list("label", "source", "created_by", "note"))
    assert events == [(1, "review", analyst.pk, ""), (0, "reported", None, "customer confirmed")]


@pytest.mark.django_db
def test_label_refuses_an_unknown_value():
    tx = TransactionFactory()

    with pytest.raises(ValueError, match="unknown label"):
        transaction_label(transaction=tx, label="perhaps", source="review")

    assert LabelEvent.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "extra",
    [
        {},
        {
            "amount": "10.125",
            "timestamp": "2026-01-05T11:00:00.123456+05:30",
            "merchant_id": " m-7 ",
            "channel": "cnp",
            "latitude": "48.8566",
            "longitude": 2.3522,
            "location_distance_km": 12,
            "country": "fr",
            "label": "fraud",
            "is_online": 1,
            "attributes": {"count": 3, "big": 1e20, "nested": {"b": 1, "a": [1.5, "x"]}},
        },
    ],
)
def test_a_new_transaction_comes_back_as_the_database_holds_it(extra):
    source = SourceFactory()

    result = transaction_ingest(source=source, data={**BODY, **extra})

    built, stored = result.transaction, Transaction.objects.get(pk=result.transaction.pk)
    deferred = built.get_deferred_fields()
    assert deferred == {"ingested_at", "change_txid"}
    for field in Transaction._meta.concrete_fields:
        if field.attname not in deferred:
            assert getattr(built, field.attname) == getattr(stored, field.attname), field.attname
    assert built.ingested_at == stored.ingested_at  # read when asked for
    assert built.source == source and not built._state.adding
