import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_default_organisation"),
        ("alerts", "0004_organisations"),
    ]

    operations = [
        migrations.AlterField(
            model_name="alertrule",
            name="organisation",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="alert_rules", to="accounts.organisation"
            ),
        ),
        migrations.AddConstraint(
            model_name="alertrule",
            constraint=models.UniqueConstraint(fields=("organisation", "name"), name="alert_rule_name_per_organisation"),
        ),
    ]
