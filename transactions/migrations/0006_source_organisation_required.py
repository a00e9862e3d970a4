import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_default_organisation"),
        ("transactions", "0005_source_organisation"),
    ]

    operations = [
        migrations.AlterField(
            model_name="source",
            name="organisation",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="sources", to="accounts.organisation"
            ),
        ),
        migrations.AddConstraint(
            model_name="source",
            constraint=models.UniqueConstraint(fields=("organisation", "name"), name="source_name_per_organisation"),
        ),
    ]
