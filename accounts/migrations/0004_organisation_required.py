import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_default_organisation")]

    operations = [
        migrations.AlterField(
            model_name="partnertoken",
            name="organisation",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="tokens", to="accounts.organisation"
            ),
        ),
    ]
