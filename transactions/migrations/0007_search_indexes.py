from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    """The search's indexes by device and by amount (search/), built without locking out writers of a large table."""

    atomic = False

    dependencies = [
        ("transactions", "0006_source_organisation_required"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="transaction",
            index=models.Index(
                condition=models.Q(("device_id", ""), _negated=True),
                fields=["device_id", "timestamp"],
                name="tx_device_time",
            ),
        ),
        AddIndexConcurrently(
            model_name="transaction",
            index=models.Index(fields=["amount"], name="tx_amount"),
        ),
        # A finer histogram of amounts: with the default one a rare range (the tail above a few thousand) is
        # thought a hundred times commoner than it is, and the planner walks the time index instead of this one.
        migrations.RunSQL(
            "ALTER TABLE transactions_transaction ALTER COLUMN amount SET STATISTICS 1000",
            "ALTER TABLE transactions_transaction ALTER COLUMN amount SET STATISTICS -1",
        ),
    ]
