import django.db.models.deletion
from django.db import migrations, models

from core.parent_keys import statement_parent_key


class Migration(migrations.Migration):
    """The scores table becomes partitioned (detection 0015): no foreign key can point at it."""

    dependencies = [
        ("alerts", "0011_transaction_reference_by_statement"),
        ("detection", "0014_transaction_reference_by_statement"),
    ]

    operations = [
        migrations.AlterField(
            model_name="alert",
            name="score",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="alerts",
                to="detection.score",
            ),
        ),
        *statement_parent_key(
            child="alerts_alert", column="score_id", parent="detection_score", lock="table", nullable=True
        ),
    ]
