import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_organisations"),
        ("alerts", "0003_pending_evaluation"),
    ]

    operations = [
        migrations.AddField(
            model_name="alertrule",
            name="organisation",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="alert_rules",
                to="accounts.organisation",
            ),
        ),
        migrations.AlterField(model_name="alertrule", name="name", field=models.CharField(max_length=100)),
        migrations.AddField(
            model_name="auditevent",
            name="organisation",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.organisation",
            ),
        ),
    ]
