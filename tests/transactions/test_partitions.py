from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from core.partitions import default_name, forget_known, month_partitions
from detection.models import Score
from review.models import ReviewItem
from tests.factories import ModelVersionFactory, ScoreFactory, SourceFactory, TransactionFactory
from transactions.models import LabelEvent, Transaction, TransactionKey
from transactions.partitions import TABLE, transaction_months_ahead, transaction_months_ensure
from transactions.services import transactions_ingest_many

BEFORE = [("transactions", "0008_card_not_present_places")]


def scored_item_by_sql(row: Transaction) -> ReviewItem:
    """A score and review item of `row` written by SQL: before detection 0015 the scores have no time column, which
    the model has."""
    version = ModelVersionFactory(organisation=row.source.organisation)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO detection_score (transaction_id, model_version_id, score, risk_level, is_anomaly, components,"
            " reasons, created_at) VALUES (%s, %s, 0.97, 'high', true, '{\"iforest\": 0.9}', '[\"new device\"]', now())"
            " RETURNING id",
            [row.pk, version.pk],
        )
        (score_id,) = cursor.fetchone()
        cursor.execute(
            "INSERT INTO review_reviewitem (transaction_id, score_id, status, priority, created_at, decision, origin)"
            " VALUES (%s, %s, 'open', 0.97, now(), '', 'live') RETURNING id",
            [row.pk, score_id],
        )
        (item_id,) = cursor.fetchone()
    return ReviewItem(pk=item_id, transaction_id=row.pk, score_id=score_id)


def _where(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {TABLE} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def _month(moment: str) -> dict:
    return {"timestamp": moment, "account_id": "A1", "amount": "12.30"}


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_a_populated_store_without_losing_a_row_or_a_relation():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    source = SourceFactory(name="moving")
    items = [
        scored_item_by_sql(TransactionFactory(source=source, timestamp=when))
        for when in (datetime(2018, 1, 5, tzinfo=UTC), datetime(2018, 2, 28, 23, 59, tzinfo=UTC))
    ]
    plain = TransactionFactory(source=source, timestamp=datetime(2026, 3, 1, tzinfo=UTC))
    LabelEvent.objects.create(transaction=plain, label=1, source="review", created_at=datetime.now(UTC))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {TABLE} ORDER BY id")  # noqa: S608
        rows_before = cursor.fetchall()

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {TABLE} ORDER BY id")  # noqa: S608
        assert cursor.fetchall() == rows_before
        assert set(month_partitions(cursor, TABLE)) >= {date(2018, 1, 1), date(2018, 2, 1), date(2026, 3, 1)}
    assert _where(items[0].transaction_id) == f"{TABLE}_p2018_01"
    assert _where(items[1].transaction_id) == f"{TABLE}_p2018_02"
    for item in items:
        assert ReviewItem.objects.select_related("transaction", "score").get(pk=item.pk).score.transaction_id == (
            item.transaction_id
        )
    assert Score.objects.count() == 2
    assert LabelEvent.objects.get().transaction == plain
    assert set(TransactionKey.objects.values_list("id", flat=True)) == {row[0] for row in rows_before}
    with pytest.raises(IntegrityError, match="transaction_unique_per_source"), transaction.atomic():
        TransactionFactory(
            source=source, transaction_id=plain.transaction_id, timestamp=datetime(2027, 1, 1, tzinfo=UTC)
        )
    assert TransactionFactory(source=source).pk > max(row[0] for row in rows_before)


@pytest.mark.django_db
def test_a_resent_id_with_a_corrected_time_is_the_same_stored_row():
    source = SourceFactory()
    first = transactions_ingest_many(source=source, rows=[{"transaction_id": "T1", **_month("2018-03-02T10:00:00Z")}])
    again = transactions_ingest_many(source=source, rows=[{"transaction_id": "T1", **_month("2019-07-02T10:00:00Z")}])
    assert first[0].created and not again[0].created
    assert again[0].transaction.pk == first[0].transaction.pk
    assert Transaction.objects.get().timestamp == datetime(2018, 3, 2, 10, tzinfo=UTC)


@pytest.mark.django_db
def test_an_id_sent_twice_in_one_call_is_stored_once():
    source = SourceFactory()
    results = transactions_ingest_many(
        source=source,
        rows=[
            {"transaction_id": "T1", **_month("2018-03-02T10:00:00Z")},
            {"transaction_id": "T1", **_month("2018-04-02T10:00:00Z")},
        ],
    )
    assert [r.created for r in results] == [True, False]
    assert Transaction.objects.count() == TransactionKey.objects.count() == 1


@pytest.mark.django_db
def test_ingest_makes_the_partition_of_an_old_month():
    forget_known()
    source = SourceFactory()
    stored = transactions_ingest_many(source=source, rows=[{"transaction_id": "T1", **_month("2011-05-02T10:00:00Z")}])
    assert _where(stored[0].transaction.pk) == f"{TABLE}_p2011_05"


@pytest.mark.django_db
def test_a_new_month_takes_its_rows_out_of_the_default_partition():
    forget_known()
    row = TransactionFactory(timestamp=datetime(2012, 8, 9, tzinfo=UTC))
    ScoreFactory(transaction=row)
    assert _where(row.pk) == default_name(TABLE)
    assert transaction_months_ensure([datetime(2012, 8, 1, tzinfo=UTC)]) == [date(2012, 8, 1)]
    assert _where(row.pk) == f"{TABLE}_p2012_08"
    assert Transaction.objects.get(pk=row.pk).scores.count() == 1
    assert TransactionKey.objects.get(pk=row.pk).timestamp == row.timestamp


@pytest.mark.django_db
def test_beat_makes_this_month_and_the_next_three():
    forget_known()
    made = transaction_months_ahead(today=date(2031, 11, 15))
    assert made == [date(2031, 11, 1), date(2031, 12, 1), date(2032, 1, 1), date(2032, 2, 1)]
    assert transaction_months_ahead(today=date(2031, 11, 15)) == []


@pytest.mark.django_db
def test_deleting_a_transaction_frees_its_key():
    row = TransactionFactory(amount=Decimal("1.00"))
    row.delete()
    assert not TransactionKey.objects.exists()
    TransactionFactory(source=row.source, transaction_id=row.transaction_id)


def _opclasses(index: str, column: int = 0) -> set[tuple[str, str]]:
    """(table, operator class of the index's `column`) of `index` and of each partition's index attached to it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, o.opcname FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid"
            " JOIN pg_class c ON c.oid = i.indrelid JOIN pg_opclass o ON o.oid = i.indclass[%s]"
            " WHERE x.oid = %s::regclass OR x.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = %s::regclass)",
            [column, index, index],
        )
        return set(cursor.fetchall())


@pytest.mark.django_db(transaction=True)
def test_cheaper_indexes_are_built_on_every_partition_of_a_populated_store(analyst):
    executor = MigrationExecutor(connection)
    executor.migrate([("transactions", "0009_partitioned_by_month")])
    source = SourceFactory(name="indexed")
    rows = [
        TransactionFactory(source=source, account_id="A1", merchant_id="M1", timestamp=when)
        for when in (datetime(2018, 1, 5, tzinfo=UTC), datetime(2018, 2, 6, tzinfo=UTC))
    ]
    transaction_months_ensure([datetime(2018, 1, 5, tzinfo=UTC), datetime(2018, 2, 6, tzinfo=UTC)])
    LabelEvent.objects.create(transaction=rows[0], label=1, source="review", created_at=datetime.now(UTC))
    LabelEvent.objects.create(
        transaction=rows[1], label=0, source="review", created_at=datetime.now(UTC), created_by=analyst
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    for index in ("tx_account_time", "tx_merchant_time", "tx_device_time"):
        found = _opclasses(index)
        assert {table for table, _ in found} >= {TABLE, f"{TABLE}_p2018_01", f"{TABLE}_p2018_02"}
        assert {opclass for _, opclass in found} == {"varchar_pattern_ops"}
    assert {opclass for _, opclass in _opclasses("transaction_unique_per_source", 1)} == {"varchar_pattern_ops"}
    assert sorted(Transaction.objects.filter(account_id="A1", merchant_id="M1").values_list("pk", flat=True)) == sorted(
        row.pk for row in rows
    )
    assert LabelEvent.objects.filter(created_by=analyst).get().transaction_id == rows[1].pk
    with pytest.raises(IntegrityError, match="transaction_unique_per_source"), transaction.atomic():
        TransactionFactory(source=source, transaction_id=rows[0].transaction_id, timestamp=rows[1].timestamp)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT proconfig FROM pg_proc WHERE proname = 'transactions_labelevent_transaction_id_parent_check'"
        )
        assert "jit=off" in cursor.fetchone()[0]
