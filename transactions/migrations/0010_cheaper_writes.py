"""Cheaper writes into the transactions table and its label events (#27 point 5; bench/import_cost.py measures
each part).

- The indexes over the senders' ids (source + transaction id, account, merchant, device; the key table's unique
  index) compare them byte by byte (varchar_pattern_ops) instead of by the database's collation: every query on
  them compares for equality (`=`, `= ANY`) and then by time, which these operator classes serve alike.
- The label events' reference check (core/parent_keys.py) runs with jit = off: planned with sequential scans off,
  its cost put every statement above jit_above_cost, and each chunk's check was compiled to machine code first.
- A label event's `created_by` is indexed only where set: imported and reported events (nearly all) have none.

The indexes are built again on every partition: on a large store this takes minutes, with writes waiting.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from core.parent_keys import statement_parent_check

BY_ID = ["int8_ops", "varchar_pattern_ops"]
BY_ID_THEN_TIME = ["varchar_pattern_ops", "timestamptz_ops"]


class Migration(migrations.Migration):
    dependencies = [
        ("transactions", "0009_partitioned_by_month"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="transactionkey", name="transaction_unique_per_source"),
        migrations.AddConstraint(
            model_name="transactionkey",
            constraint=models.UniqueConstraint(
                fields=("source_id", "transaction_id"), name="transaction_unique_per_source", opclasses=BY_ID
            ),
        ),
        migrations.RemoveIndex(model_name="transaction", name="tx_source_txid"),
        migrations.AddIndex(
            model_name="transaction",
            index=models.Index(fields=["source", "transaction_id"], name="tx_source_txid", opclasses=BY_ID),
        ),
        migrations.RemoveIndex(model_name="transaction", name="tx_account_time"),
        migrations.AddIndex(
            model_name="transaction",
            index=models.Index(fields=["account_id", "timestamp"], name="tx_account_time", opclasses=BY_ID_THEN_TIME),
        ),
        migrations.RemoveIndex(model_name="transaction", name="tx_merchant_time"),
        migrations.AddIndex(
            model_name="transaction",
            index=models.Index(
                fields=["merchant_id", "timestamp"], name="tx_merchant_time", opclasses=BY_ID_THEN_TIME
            ),
        ),
        migrations.RemoveIndex(model_name="transaction", name="tx_device_time"),
        migrations.AddIndex(
            model_name="transaction",
            index=models.Index(
                condition=~models.Q(device_id=""),
                fields=["device_id", "timestamp"],
                name="tx_device_time",
                opclasses=BY_ID_THEN_TIME,
            ),
        ),
        statement_parent_check(
            child="transactions_labelevent", column="transaction_id", parent="transactions_transaction", lock="table"
        ),
        migrations.AlterField(
            model_name="labelevent",
            name="created_by",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddIndex(
            model_name="labelevent",
            index=models.Index(
                condition=models.Q(created_by__isnull=False), fields=["created_by"], name="label_event_by_person"
            ),
        ),
    ]
