"""Scores and shadow scores partitioned by month of their transaction's time (detection 0015)."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from alerts.models import Alert
from core.partitions import default_name, forget_known, month_partitions
from detection.models import Score, ShadowScore
from detection.scoring.services import StoredRows, score_stored, score_transactions
from review.models import ReviewItem
from tests.detection.scoring.test_shadow import challenger, new_rows  # noqa: F401 - the fixture
from tests.factories import (
    AlertRuleFactory,
    ModelVersionFactory,
    ScoreFactory,
    SourceFactory,
    TransactionFactory,
    default_organisation,
)
from transactions.partitions import transaction_months_ahead, transaction_months_ensure

BEFORE = [("detection", "0014_transaction_reference_by_statement")]
SCORES, SHADOW = Score._meta.db_table, ShadowScore._meta.db_table
OLD_COLUMNS = (
    "id, transaction_id, model_version_id, score, risk_level, is_anomaly, components, reasons, decision, rules"
)


def _where(table: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def _rows(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def _populate_before() -> dict:
    """Scores, a shadow score, review items and an alert of three months, written by SQL: before detection 0015 the
    scores have no time column, which the model has."""
    source = SourceFactory(name="moving")
    version, challenger_version = (ModelVersionFactory(organisation=source.organisation) for _ in range(2))
    times = [datetime(2018, 1, 5, tzinfo=UTC), datetime(2018, 2, 28, 23, 59, 59, 999999, tzinfo=UTC)]
    rows = [TransactionFactory(source=source, timestamp=at) for at in [*times, datetime(2026, 3, 1, tzinfo=UTC)]]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO detection_score (transaction_id, model_version_id, score, risk_level, is_anomaly, components,"
            " reasons, decision, rules, created_at) SELECT t, %s, 0.97, 'high', true, '{\"iforest\": 0.91}',"
            ' \'["new device"]\', \'review\', \'[{"id": 1, "name": "r", "action": "review"}]\', now()'
            " FROM unnest(%s::bigint[]) t RETURNING id, transaction_id",
            [version.pk, [row.pk for row in rows]],
        )
        scores = cursor.fetchall()
        cursor.execute(
            "INSERT INTO detection_shadowscore (transaction_id, model_version_id, champion_id, score, components,"
            " created_at) VALUES (%s, %s, %s, 0.5, '{\"iforest\": 0.5}', now())",
            [rows[0].pk, challenger_version.pk, version.pk],
        )
        cursor.execute(
            "INSERT INTO review_reviewitem (transaction_id, score_id, status, priority, created_at, decision, origin)"
            " SELECT t, s, 'open', 0.97, now(), '', 'live' FROM unnest(%s::bigint[], %s::bigint[]) AS q(t, s)"
            " RETURNING id",
            [[t for _, t in scores[:2]], [s for s, _ in scores[:2]]],
        )
    alert = Alert.objects.create(rule=AlertRuleFactory(), transaction_id=rows[1].pk, score_id=scores[1][0])
    return {"rows": rows, "scores": scores, "alert": alert, "version": version}


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_populated_scores_without_losing_a_row_or_a_relation():
    MigrationExecutor(connection).migrate(BEFORE)
    made = _populate_before()
    scores_before = _rows(f"SELECT {OLD_COLUMNS} FROM {SCORES} ORDER BY id")  # noqa: S608
    shadow_before = _rows(f"SELECT * FROM {SHADOW} ORDER BY id")  # noqa: S608

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert _rows(f"SELECT {OLD_COLUMNS} FROM {SCORES} ORDER BY id") == scores_before  # noqa: S608
    assert [row[:-1] for row in _rows(f"SELECT * FROM {SHADOW} ORDER BY id")] == shadow_before  # noqa: S608
    for score in Score.objects.select_related("transaction"):
        assert score.transaction_time == score.transaction.timestamp
    assert ShadowScore.objects.get().transaction_time == made["rows"][0].timestamp
    with connection.cursor() as cursor:
        assert {date(2018, 1, 1), date(2018, 2, 1), date(2026, 3, 1)} <= set(month_partitions(cursor, SCORES))
        # every month of the transactions has its scores' partition beside it
        assert set(month_partitions(cursor, "transactions_transaction")) <= set(month_partitions(cursor, SCORES))
    (first, _), (second, _), (third, _) = made["scores"]
    assert [_where(SCORES, pk) for pk in (first, second, third)] == [
        f"{SCORES}_p2018_01",
        f"{SCORES}_p2018_02",
        f"{SCORES}_p2026_03",
    ]
    assert _where(SHADOW, ShadowScore.objects.get().pk) == f"{SHADOW}_p2018_01"
    for item in ReviewItem.objects.select_related("score", "transaction"):
        assert item.score.transaction_id == item.transaction_id
    assert Alert.objects.get(pk=made["alert"].pk).score.transaction == made["rows"][1]
    # One score per transaction and version still; ids go on from where they were.
    duplicate = r"\(transaction_id, model_version_id, transaction_time\)"
    with pytest.raises(IntegrityError, match=duplicate), transaction.atomic():
        ScoreFactory(transaction=made["rows"][0], model_version=made["version"])
    assert ScoreFactory(transaction=made["rows"][0]).pk > third
    # A score pointing at nothing, or at another time than its transaction's, is refused as before.
    with pytest.raises(IntegrityError, match="still referenced"), transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM detection_score WHERE id = %s", [second])  # its review item and alert point at it

    MigrationExecutor(connection).migrate(BEFORE)  # and back, rows and all
    kept = _rows(f"SELECT {OLD_COLUMNS} FROM {SCORES} WHERE id <= {third} ORDER BY id")  # noqa: S608
    assert kept == scores_before
    assert _rows(f"SELECT * FROM {SHADOW} ORDER BY id") == shadow_before  # noqa: S608
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db
def test_every_path_stores_the_transactions_time_in_its_months_partition(challenger, active_model):  # noqa: F811
    one = new_rows(1)
    transaction_months_ensure([one[0].timestamp], remembered=False)  # as ingest does (the factory does not)
    many = new_rows(229, amount="41.00")  # past COPY_ABOVE: the COPY path, and the plain INSERT before ON CONFLICT
    (single,) = score_transactions(transactions=one)
    score_stored(stored=StoredRows(pks=[t.pk for t in many]), organisation_id=default_organisation().pk)

    assert single.transaction_time == one[0].timestamp
    for model in (Score, ShadowScore):
        stored = model.objects.filter(transaction__in=[*one, *many]).select_related("transaction")
        assert stored.count() == 230
        assert all(s.transaction_time == s.transaction.timestamp for s in stored)
        assert _where(model._meta.db_table, stored[0].pk) == f"{model._meta.db_table}_p{one[0].timestamp:%Y_%m}"


@pytest.mark.django_db
def test_a_transaction_scored_again_keeps_its_one_score(active_model):
    (tx,) = new_rows(1)
    (first,) = score_transactions(transactions=[tx])
    score_stored(stored=StoredRows(pks=[tx.pk]), organisation_id=default_organisation().pk)
    (again,) = score_transactions(transactions=[tx])
    assert again.pk == first.pk and Score.objects.filter(transaction=tx).count() == 1


@pytest.mark.django_db
def test_the_months_made_for_transactions_are_made_for_their_scores_too():
    forget_known()
    assert transaction_months_ensure([datetime(2013, 4, 9, tzinfo=UTC)]) == [date(2013, 4, 1)]
    transaction_months_ahead(today=date(2032, 11, 15))
    with connection.cursor() as cursor:
        for table in (SCORES, SHADOW):
            months = set(month_partitions(cursor, table))
            assert {date(2013, 4, 1), date(2032, 11, 1), date(2033, 2, 1)} <= months


@pytest.mark.django_db
def test_a_score_waiting_in_the_default_partition_moves_into_its_new_month():
    forget_known()
    score = ScoreFactory(transaction=TransactionFactory(timestamp=datetime(2012, 8, 9, tzinfo=UTC)))
    assert _where(SCORES, score.pk) == default_name(SCORES)
    transaction_months_ensure([datetime(2012, 8, 1, tzinfo=UTC)])
    assert _where(SCORES, score.pk) == f"{SCORES}_p2012_08"


@pytest.mark.django_db
def test_a_transactions_time_changed_within_its_month_carries_over_to_its_scores():
    score = ScoreFactory()
    later = score.transaction.timestamp + timedelta(minutes=5)
    type(score.transaction).objects.filter(pk=score.transaction_id).update(timestamp=later)
    score.refresh_from_db()
    assert score.transaction_time == later
