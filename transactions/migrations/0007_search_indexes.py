from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    """The search's index by device (search/), built without locking out writers of a large table."""

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
    ]
