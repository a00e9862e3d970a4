import django.db.models.deletion
from django.db import migrations, models


def _organisation(related_name: str):
    return models.ForeignKey(
        null=True, on_delete=django.db.models.deletion.PROTECT, related_name=related_name, to="accounts.organisation"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_organisations"),
        ("detection", "0008_model_version_artifact_format"),
    ]

    operations = [
        migrations.AddField(model_name="modelversion", name="organisation", field=_organisation("model_versions")),
        migrations.AddField(model_name="riskpolicy", name="organisation", field=_organisation("risk_policies")),
        migrations.AddField(model_name="backtestrun", name="organisation", field=_organisation("backtest_runs")),
        migrations.RemoveConstraint(model_name="modelversion", name="one_active_model_version"),
        migrations.AlterField(
            model_name="modelversion",
            name="version",
            field=models.PositiveIntegerField(help_text="Numbered within the organisation."),
        ),
    ]
