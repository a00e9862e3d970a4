import django.db.models.deletion
from django.db import migrations, models


def _organisation(related_name: str):
    return models.ForeignKey(
        on_delete=django.db.models.deletion.PROTECT, related_name=related_name, to="accounts.organisation"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_default_organisation"),
        ("detection", "0009_organisations"),
    ]

    operations = [
        migrations.AlterField(model_name="modelversion", name="organisation", field=_organisation("model_versions")),
        migrations.AlterField(model_name="riskpolicy", name="organisation", field=_organisation("risk_policies")),
        migrations.AlterField(model_name="backtestrun", name="organisation", field=_organisation("backtest_runs")),
        migrations.AddConstraint(
            model_name="modelversion",
            constraint=models.UniqueConstraint(
                fields=("organisation", "version"), name="model_version_number_per_organisation"
            ),
        ),
        migrations.AddConstraint(
            model_name="modelversion",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "active")), fields=("organisation",), name="one_active_model_version"
            ),
        ),
    ]
