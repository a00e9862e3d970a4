"""Each user reads each organisation's alerts on their own: a read mark per user and organisation. A mark stored
before goes to every organisation the user is a member of, so no one's bell fills with alerts they had read.
Scores kept for a later evaluation name their organisation."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def per_organisation(apps, schema_editor):
    marks = apps.get_model("alerts", "AlertReadMark")
    memberships = apps.get_model("accounts", "Membership")
    old = list(marks.objects.filter(organisation__isnull=True))
    marks.objects.bulk_create(
        marks(user_id=mark.user_id, organisation_id=organisation_id, last_seen_alert_id=mark.last_seen_alert_id)
        for mark in old
        for organisation_id in memberships.objects.filter(user_id=mark.user_id).values_list(
            "organisation_id", flat=True
        )
    )
    marks.objects.filter(organisation__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_organisation_required"),
        ("alerts", "0005_alert_rule_organisation_required"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="alertreadmark",
            name="organisation",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.organisation"
            ),
        ),
        migrations.AlterField(
            model_name="alertreadmark",
            name="user",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="alert_read_marks",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(per_organisation, migrations.RunPython.noop),
        migrations.AddField(
            model_name="pendingevaluation",
            name="organisation",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="accounts.organisation",
            ),
        ),
    ]
