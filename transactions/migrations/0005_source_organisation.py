import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_organisations"),
        ("transactions", "0004_parent_key_by_statement"),
    ]

    operations = [
        migrations.AddField(
            model_name="source",
            name="organisation",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.PROTECT, related_name="sources", to="accounts.organisation"
            ),
        ),
        migrations.AlterField(model_name="source", name="name", field=models.CharField(max_length=100)),
    ]
