"""Scores and shadow scores move into tables partitioned by month of their transaction's time, rows and all
(core/partitions.py), as the transactions did in transactions 0009.

Each gains `transaction_time`, its transaction's time (filled from the transactions' keys, which outlive an archived
row), the partition key. Their unique (transaction, model_version) holds with the key in it: a transaction has one
time, so one score per version still. The statement-level checks of their transaction (core/parent_keys.py) match the
time too, so a score's time is its transaction's and a check probes one month; a transaction's time changed within
its month carries over to its scores (a trigger). Alerts stopped pointing at scores by foreign key first (alerts 0012).
"""

from django.db import migrations, models

from core.parent_keys import statement_parent_time
from core.partitions import ensure_months, forget_known, month_partitions, rebuild_table

TRANSACTIONS = "transactions_transaction"
KEY = "transaction_time"
TABLES = {"detection_score": "score_once_per_version", "detection_shadowscore": "shadow_score_once_per_version"}

FOLLOW = """
CREATE FUNCTION detection_scores_follow_time() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE detection_score SET transaction_time = NEW."timestamp"
        WHERE transaction_id = NEW.id AND transaction_time = OLD."timestamp";
    UPDATE detection_shadowscore SET transaction_time = NEW."timestamp"
        WHERE transaction_id = NEW.id AND transaction_time = OLD."timestamp";
    RETURN NULL;
END $$;
CREATE TRIGGER detection_scores_follow_time AFTER UPDATE OF "timestamp" ON transactions_transaction
    FOR EACH ROW WHEN (OLD."timestamp" IS DISTINCT FROM NEW."timestamp") EXECUTE FUNCTION detection_scores_follow_time();
"""
UNFOLLOW = """
DROP TRIGGER detection_scores_follow_time ON transactions_transaction;
DROP FUNCTION detection_scores_follow_time();
"""


def _foreign_keys(cursor, table: str) -> list[str]:
    """ADD CONSTRAINT text of the table's own foreign keys (a rebuilt table's LIKE does not copy them)."""
    cursor.execute(
        "SELECT 'CONSTRAINT ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
        [table],
    )
    return [definition for (definition,) in cursor.fetchall()]


def partition(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for table, unique in TABLES.items():
            cursor.execute(f"ALTER TABLE {table} ADD COLUMN {KEY} timestamp with time zone")
            cursor.execute(
                f'UPDATE {table} s SET {KEY} = k."timestamp" FROM transactions_transactionkey k'  # noqa: S608
                " WHERE k.id = s.transaction_id"
            )
            cursor.execute(f"SELECT id, transaction_id FROM {table} WHERE {KEY} IS NULL LIMIT 1")  # noqa: S608
            orphan = cursor.fetchone()
            if orphan:
                raise RuntimeError(f"{table} row {orphan[0]}: its transaction {orphan[1]} has no key; nothing moved")
            cursor.execute(f"ALTER TABLE {table} ALTER COLUMN {KEY} SET NOT NULL")
            rebuild_table(
                cursor,
                table=table,
                key=KEY,
                partitioned=True,
                primary_key=f"id, {KEY}",
                constraints=[
                    f"CONSTRAINT {unique} UNIQUE (transaction_id, model_version_id, {KEY})",
                    *_foreign_keys(cursor, table),
                ],
            )
            # The transactions' months too, so that each of their months has its scores' partition beside it.
            forget_known(table)
            ensure_months(table, KEY, month_partitions(cursor, TRANSACTIONS), remembered=False)


def unpartition(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for table, unique in TABLES.items():
            rebuild_table(
                cursor,
                table=table,
                key=KEY,
                partitioned=False,
                primary_key="id",
                constraints=[
                    f"CONSTRAINT {unique} UNIQUE (transaction_id, model_version_id)",
                    *_foreign_keys(cursor, table),
                ],
            )
            cursor.execute(f"ALTER TABLE {table} DROP COLUMN {KEY}")
            forget_known(table)


def _state(model: str, unique: str) -> list:
    return [
        migrations.AddField(model_name=model, name=KEY, field=models.DateTimeField()),
        migrations.RemoveConstraint(model_name=model, name=unique),
        migrations.AddConstraint(
            model_name=model,
            constraint=models.UniqueConstraint(fields=("transaction", "model_version", KEY), name=unique),
        ),
    ]


class Migration(migrations.Migration):
    atomic = True

    dependencies = [
        ("detection", "0014_transaction_reference_by_statement"),
        ("transactions", "0009_partitioned_by_month"),
        ("alerts", "0012_score_reference_by_statement"),
        ("review", "0003_parent_key_by_statement"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                *_state("score", "score_once_per_version"),
                *_state("shadowscore", "shadow_score_once_per_version"),
            ],
            database_operations=[migrations.RunPython(partition, unpartition)],
        ),
        *[
            statement_parent_time(
                child=table, column="transaction_id", parent=TRANSACTIONS, time=KEY, parent_time='"timestamp"'
            )
            for table in TABLES
        ],
        migrations.RunSQL(FOLLOW, UNFOLLOW),
    ]
