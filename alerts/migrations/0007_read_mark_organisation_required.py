import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Apart from 0006: PostgreSQL alters no table with the foreign key checks of 0006's new rows still pending."""

    dependencies = [("alerts", "0006_read_mark_per_organisation")]

    operations = [
        migrations.AlterField(
            model_name="alertreadmark",
            name="organisation",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.organisation"
            ),
        ),
        migrations.AddConstraint(
            model_name="alertreadmark",
            constraint=models.UniqueConstraint(
                fields=("user", "organisation"), name="alert_read_mark_per_user_organisation"
            ),
        ),
    ]
