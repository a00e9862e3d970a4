"""The references kept by statement-level triggers (anomaly_site/parent_keys.py) hold like foreign keys."""

import contextlib
from datetime import timedelta

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction

from detection.models import ModelVersion, Score
from review.models import ReviewItem
from tests.factories import (
    ModelVersionFactory,
    ReviewItemFactory,
    ScoreFactory,
    TransactionFactory,
    default_organisation,
)
from transactions.models import Source, Transaction


@pytest.mark.django_db
def test_a_transaction_of_a_missing_source_is_refused():
    with pytest.raises(IntegrityError, match="transactions_source"), transaction.atomic():
        TransactionFactory(source_id=987654321)
    assert not Transaction.objects.exists()


@pytest.mark.django_db
def test_a_bulk_insert_with_one_missing_source_stores_nothing():
    source = Source.objects.create(organisation=default_organisation(), name="bulk-parent")
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO transactions_transaction (source_id, transaction_id, timestamp, account_id, amount, currency,"
            " merchant_id, merchant_category, channel, country, device_id, attributes, label_source, ingested_at)"
            " SELECT CASE WHEN g = 500 THEN %s ELSE %s END, 'tx-' || g, now(), 'a', 1, 'EUR', '', '', 'online', '',"
            " '', '{}', '', now() FROM generate_series(1, 1000) g",
            [source.pk + 1000, source.pk],
        )
    assert not Transaction.objects.exists()


@pytest.mark.django_db
def test_moving_a_transaction_to_a_missing_source_is_refused():
    stored = TransactionFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Transaction.objects.filter(pk=stored.pk).update(source_id=stored.source_id + 1000)


@pytest.mark.django_db
def test_a_score_of_a_missing_model_version_is_refused():
    score = ScoreFactory()
    with pytest.raises(IntegrityError, match="detection_modelversion"), transaction.atomic():
        Score.objects.create(
            transaction=score.transaction,
            model_version_id=score.model_version_id + 1000,
            score=0.5,
            risk_level="low",
            transaction_time=score.transaction_time,
        )


@pytest.mark.django_db
def test_a_score_at_another_time_than_its_transactions_is_refused():
    score = ScoreFactory()
    with pytest.raises(IntegrityError, match="transaction_id .* at its transaction_time"), transaction.atomic():
        ScoreFactory(transaction=score.transaction, transaction_time=score.transaction_time - timedelta(seconds=1))


@pytest.mark.django_db
def test_a_referenced_parent_cannot_be_deleted_even_by_sql():
    score = ScoreFactory()
    with pytest.raises(IntegrityError, match="still referenced"), transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM detection_modelversion WHERE id = %s", [score.model_version_id])
    with pytest.raises(IntegrityError, match="still referenced"), transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM transactions_source WHERE id = %s", [score.transaction.source_id])
    assert ModelVersion.objects.filter(pk=score.model_version_id).exists()


@pytest.mark.django_db
def test_an_unreferenced_parent_can_be_deleted():
    source = Source.objects.create(organisation=default_organisation(), name="empty")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM transactions_source WHERE id = %s", [source.pk])
    assert not Source.objects.filter(pk=source.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_deleting_a_parent_waits_for_an_open_transaction_that_references_it_then_refuses():
    scored, version = ScoreFactory(), ModelVersionFactory()
    with _two_connections() as (writer, deleter):
        _insert_score_left_open(writer, transaction_id=scored.transaction_id, version_id=version.pk)
        deleter.execute("SET lock_timeout = '300ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):  # the insert's trigger holds the version's key lock
            deleter.execute("DELETE FROM detection_modelversion WHERE id = %s", [version.pk])
        deleter.rollback()
        writer.commit()
        with pytest.raises(psycopg.errors.ForeignKeyViolation):  # and once it commits, its score is seen
            deleter.execute("DELETE FROM detection_modelversion WHERE id = %s", [version.pk])
    assert ModelVersion.objects.filter(pk=version.pk).exists()


@pytest.mark.django_db
def test_a_score_of_a_missing_transaction_is_refused():
    score = ScoreFactory()
    with pytest.raises(IntegrityError, match="transactions_transaction"), transaction.atomic():
        Score.objects.create(
            transaction_id=score.transaction_id + 1000,
            model_version=score.model_version,
            score=0.5,
            risk_level="low",
            transaction_time=score.transaction_time,
        )


@pytest.mark.django_db
def test_a_scored_transaction_cannot_be_deleted_by_sql_but_the_orm_cascades():
    score = ScoreFactory()
    with pytest.raises(IntegrityError, match="still referenced"), transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM transactions_transaction WHERE id = %s", [score.transaction_id])
    Transaction.objects.filter(pk=score.transaction_id).delete()  # Django deletes the scores first
    assert not Score.objects.filter(pk=score.pk).exists()


@pytest.mark.django_db(transaction=True)  # TRUNCATE needs no trigger events pending from the inserts
def test_truncating_a_parent_alone_is_refused():
    ScoreFactory()
    with connection.cursor() as cursor:  # tables with a plain foreign key to it go too: their refusal is not this one
        cursor.execute(
            "WITH RECURSIVE keyed(rel) AS (SELECT conrelid FROM pg_constraint"
            " WHERE contype = 'f' AND confrelid = 'detection_modelversion'::regclass"
            " UNION SELECT c.conrelid FROM pg_constraint c JOIN keyed ON c.confrelid = keyed.rel AND c.contype = 'f')"
            " SELECT DISTINCT rel::regclass::text FROM keyed"
        )
        with_keys = [name for (name,) in cursor.fetchall()]
    with pytest.raises(IntegrityError, match="truncate"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(['detection_modelversion', *with_keys])}")


@pytest.mark.django_db(transaction=True)
def test_deleting_a_transaction_waits_for_an_open_insert_of_its_score_then_refuses():
    scored, version = ScoreFactory(), ModelVersionFactory()
    with _two_connections() as (writer, deleter):
        _insert_score_left_open(writer, transaction_id=scored.transaction_id, version_id=version.pk)
        deleter.execute("DELETE FROM detection_score")  # the committed score is gone in the deleter's view
        deleter.execute("SET lock_timeout = '300ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):  # the guard waits for the open insert
            deleter.execute("DELETE FROM transactions_transaction WHERE id = %s", [scored.transaction_id])
        deleter.rollback()
        writer.commit()
        deleter.execute("DELETE FROM detection_score WHERE model_version_id = %s", [scored.model_version_id])
        with pytest.raises(psycopg.errors.ForeignKeyViolation):  # then sees the score committed meanwhile
            deleter.execute("DELETE FROM transactions_transaction WHERE id = %s", [scored.transaction_id])
    assert Transaction.objects.filter(pk=scored.transaction_id).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("column", "parent"), [("score_id", "detection_score"), ("transaction_id", "transactions")])
def test_a_review_item_of_a_missing_score_or_transaction_is_refused(column, parent):
    item = ReviewItemFactory()
    fields = {"score_id": item.score_id, "transaction_id": TransactionFactory().pk} | {column: 10**12}  # no such id
    with pytest.raises(IntegrityError, match=parent), transaction.atomic():
        ReviewItem.objects.create(**fields)
    with pytest.raises(IntegrityError, match=parent), transaction.atomic():
        ReviewItem.objects.filter(pk=item.pk).update(**{column: getattr(item, column) + 1000})


@pytest.mark.django_db
def test_a_queued_transaction_or_its_score_cannot_be_deleted_by_sql_but_the_orm_cascades():
    item = ReviewItemFactory(transaction=TransactionFactory())  # a transaction without scores: only the item holds it
    for table, pk in (("detection_score", item.score_id), ("transactions_transaction", item.transaction_id)):
        with pytest.raises(IntegrityError, match="review_reviewitem"), transaction.atomic(), connection.cursor() as c:
            c.execute(f"DELETE FROM {table} WHERE id = %s", [pk])  # noqa: S608 - the test's own constants
    Transaction.objects.filter(pk=item.transaction_id).delete()  # Django deletes the item first
    assert not ReviewItem.objects.filter(pk=item.pk).exists() and Score.objects.filter(pk=item.score_id).exists()


@contextlib.contextmanager
def _two_connections():
    params = connection.get_connection_params()
    with psycopg.connect(**params) as writer, psycopg.connect(**params) as deleter:
        yield writer, deleter


def _insert_score_left_open(writer, *, transaction_id: int, version_id: int) -> None:
    """A score inserted by `writer`, whose transaction stays open until the test commits it."""
    writer.execute(
        "INSERT INTO detection_score (transaction_id, model_version_id, score, risk_level, is_anomaly, components,"
        " reasons, created_at, transaction_time) SELECT %s, %s, 0.5, 'low', false, '{}', '[]', now(),"
        " (SELECT timestamp FROM transactions_transactionkey WHERE id = %s)",
        [transaction_id, version_id, transaction_id],
    )


def _scans(cursor, table: str) -> tuple[int, int]:
    """`table`'s sequential and index scans so far in this transaction (its partitions', when it has some)."""
    cursor.execute(
        "SELECT sum(seq_scan)::int, sum(coalesce(idx_scan, 0))::int FROM pg_stat_xact_user_tables"
        " WHERE relid = %s::regclass OR relid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = %s::regclass)",
        [table, table],
    )
    return cursor.fetchone()


def _scored_transactions(cursor, *, source_id: int, version_id: int, first: int, count: int) -> list[tuple[int, int]]:
    """`count` new transactions with a score each, by SQL; their (transaction id, score id) pairs."""
    cursor.execute(
        "INSERT INTO transactions_transaction (source_id, transaction_id, timestamp, account_id, amount, currency,"
        " merchant_id, merchant_category, channel, country, device_id, attributes, label_source, ingested_at)"
        " SELECT %s, 'grown-' || g, now(), 'a', 1, 'EUR', '', '', 'online', '', '', '{}', '', now()"
        " FROM generate_series(%s, %s) g RETURNING id",
        [source_id, first, first + count - 1],
    )
    transaction_ids = [row[0] for row in cursor.fetchall()]
    cursor.execute(
        "INSERT INTO detection_score (transaction_id, model_version_id, score, risk_level, is_anomaly, components,"
        " reasons, created_at, transaction_time) SELECT t.id, %s, 0.9, 'high', true, '{}', '[]', now(), t.timestamp"
        " FROM transactions_transaction t WHERE t.id = ANY(%s::bigint[]) RETURNING transaction_id, id",
        [version_id, transaction_ids],
    )
    return cursor.fetchall()


def _queue(cursor, pairs: list[tuple[int, int]]) -> None:
    cursor.execute(
        "INSERT INTO review_reviewitem (transaction_id, score_id, status, priority, created_at, decision, origin)"
        " SELECT t, s, 'open', 90, now(), '', 'live' FROM unnest(%s::bigint[], %s::bigint[]) AS q(t, s)",
        [[t for t, _ in pairs], [s for _, s in pairs]],
    )


@pytest.mark.django_db
def test_a_large_parents_check_probes_its_key_even_when_planned_while_it_was_small():
    """The session plans a trigger's check once: planned while the scores were few, it must not go on reading
    every score (a hash join) for each batch queued once they are many."""
    source, version = Source.objects.create(organisation=default_organisation(), name="growing"), ModelVersionFactory()
    with connection.cursor() as cursor:
        cursor.execute("DISCARD PLANS")  # this session plans the checks anew, with the tables as small as now
        few = _scored_transactions(cursor, source_id=source.pk, version_id=version.pk, first=0, count=200)
        _queue(cursor, few[:100])
        many = _scored_transactions(cursor, source_id=source.pk, version_id=version.pk, first=200, count=20000)
        before = {table: _scans(cursor, table) for table in ("detection_score", "transactions_transaction")}
        _queue(cursor, many[-100:])
        after = {table: _scans(cursor, table) for table in before}
    assert ReviewItem.objects.count() == 200
    for table in before:
        assert after[table][0] == before[table][0], f"{table} read whole"
        assert after[table][1] > before[table][1], f"{table}'s key not probed"


@pytest.mark.django_db
def test_every_check_that_probes_a_parents_key_runs_without_jit():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT proname, array_to_string(proconfig, ' ') FROM pg_proc"
            " WHERE proname LIKE '%%_parent_check' AND array_to_string(proconfig, ' ') LIKE '%%enable_seqscan=off%%'"
        )
        checks = dict(cursor.fetchall())
    assert {"alerts_alert_score_id_parent_check", "review_reviewitem_score_id_parent_check"} <= set(checks)
    assert {name for name, config in checks.items() if "jit=off" not in config} == set()
