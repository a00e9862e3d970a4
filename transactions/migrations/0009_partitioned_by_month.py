"""Transactions move into a table partitioned by month of their time, rows and all (core/partitions.py).

Every unique index of a partitioned table must hold its partition key, so (source, transaction_id) uniqueness, which
makes ingest idempotent, moves to transactions_transactionkey: triggers write a key for every stored row in the same
statement, and a second row of the same source and id fails on its unique constraint, as it did on the table's.
Foreign keys cannot point at a partitioned table's id alone: label events (here), shadow scores (detection 0014)
and alerts (alerts 0011) become statement-level checks first, as scores and review items already were.
"""

import django.db.models.deletion
from django.db import migrations, models

from core.parent_keys import statement_parent_key
from core.partitions import rebuild_table

TABLE = "transactions_transaction"

KEYS = """
CREATE TABLE transactions_transactionkey (
    id bigint PRIMARY KEY,
    source_id bigint NOT NULL,
    transaction_id varchar(128) NOT NULL,
    "timestamp" timestamp with time zone NOT NULL,
    CONSTRAINT transaction_unique_per_source UNIQUE (source_id, transaction_id)
);
INSERT INTO transactions_transactionkey SELECT id, source_id, transaction_id, "timestamp" FROM transactions_transaction;

CREATE FUNCTION transactions_key_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO transactions_transactionkey (id, source_id, transaction_id, "timestamp")
        SELECT id, source_id, transaction_id, "timestamp" FROM new_rows;
    RETURN NULL;
END $$;
CREATE TRIGGER transactions_key_insert AFTER INSERT ON transactions_transaction REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION transactions_key_insert();

CREATE FUNCTION transactions_key_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE transactions_transactionkey k
        SET source_id = n.source_id, transaction_id = n.transaction_id, "timestamp" = n."timestamp"
        FROM new_rows n
        WHERE k.id = n.id
          AND (k.source_id, k.transaction_id, k."timestamp") IS DISTINCT FROM (n.source_id, n.transaction_id, n."timestamp");
    RETURN NULL;
END $$;
CREATE TRIGGER transactions_key_update AFTER UPDATE ON transactions_transaction REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION transactions_key_update();

CREATE FUNCTION transactions_key_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM transactions_transactionkey WHERE id IN (SELECT id FROM old_rows);
    RETURN NULL;
END $$;
CREATE TRIGGER transactions_key_delete AFTER DELETE ON transactions_transaction REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION transactions_key_delete();

CREATE FUNCTION transactions_key_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN DELETE FROM transactions_transactionkey; RETURN NULL; END $$;
CREATE TRIGGER transactions_key_truncate AFTER TRUNCATE ON transactions_transaction
    FOR EACH STATEMENT EXECUTE FUNCTION transactions_key_truncate();
"""
KEY_TRIGGERS = ("transactions_key_insert", "transactions_key_update", "transactions_key_delete", "transactions_key_truncate")
DROP_KEYS = "DROP TABLE transactions_transactionkey;" + "".join(f"DROP FUNCTION {name}();" for name in KEY_TRIGGERS)


def partition(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        rebuild_table(
            cursor,
            table=TABLE,
            key='"timestamp"',
            partitioned=True,
            primary_key='id, "timestamp"',
            indexes=["CREATE INDEX tx_source_txid ON {table} (source_id, transaction_id)"],
        )
        cursor.execute(KEYS)


def unpartition(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        rebuild_table(
            cursor,
            table=TABLE,
            key='"timestamp"',
            partitioned=False,
            primary_key="id",
            drop_indexes=["tx_source_txid"],
            drop_triggers=KEY_TRIGGERS,
        )
        cursor.execute(DROP_KEYS)
        cursor.execute(
            f"ALTER TABLE {TABLE} ADD CONSTRAINT transaction_unique_per_source UNIQUE (source_id, transaction_id)"
        )


class Migration(migrations.Migration):
    atomic = True

    dependencies = [
        ("transactions", "0008_card_not_present_places"),
        ("detection", "0014_transaction_reference_by_statement"),
        ("alerts", "0011_transaction_reference_by_statement"),
        # Review items stopped pointing at transactions by foreign key there: before it, no order of the graph's.
        ("review", "0003_parent_key_by_statement"),
    ]

    operations = [
        migrations.AlterField(
            model_name="labelevent",
            name="transaction",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="label_events",
                to="transactions.transaction",
            ),
        ),
        *statement_parent_key(
            child="transactions_labelevent", column="transaction_id", parent=TABLE, lock="table"
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(model_name="transaction", name="transaction_unique_per_source"),
                migrations.AddIndex(
                    model_name="transaction",
                    index=models.Index(fields=["source", "transaction_id"], name="tx_source_txid"),
                ),
                migrations.CreateModel(
                    name="TransactionKey",
                    fields=[
                        ("id", models.BigIntegerField(primary_key=True, serialize=False)),
                        ("source_id", models.BigIntegerField()),
                        ("transaction_id", models.CharField(max_length=128)),
                        ("timestamp", models.DateTimeField()),
                    ],
                    options={
                        "default_permissions": (),
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("source_id", "transaction_id"), name="transaction_unique_per_source"
                            )
                        ],
                    },
                ),
            ],
            database_operations=[migrations.RunPython(partition, unpartition)],
        ),
    ]
