"""Rows stored before organisations existed all go to one organisation (DEFAULT_ORGANISATION, `demo` unless set),
and every existing user becomes its member, so an upgraded installation works as before."""

import os

from django.db import migrations

OWNED = [
    ("accounts", "PartnerToken"),
    ("transactions", "Source"),
    ("detection", "ModelVersion"),
    ("detection", "RiskPolicy"),
    ("detection", "BacktestRun"),
    ("alerts", "AlertRule"),
]


def assign(apps, schema_editor):
    models = [apps.get_model(app, name) for app, name in OWNED]
    users = apps.get_model("auth", "User")
    if not any(model.objects.exists() for model in models) and not users.objects.exists():
        return
    organisation, _ = apps.get_model("accounts", "Organisation").objects.get_or_create(
        name=os.environ.get("DEFAULT_ORGANISATION", "demo")
    )
    for model in models:
        model.objects.filter(organisation__isnull=True).update(organisation=organisation)
    membership = apps.get_model("accounts", "Membership")
    membership.objects.bulk_create(
        [membership(user_id=pk, organisation=organisation) for pk in users.objects.values_list("pk", flat=True)],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_organisations"),
        ("transactions", "0005_source_organisation"),
        ("detection", "0009_organisations"),
        ("alerts", "0004_organisations"),
    ]

    operations = [migrations.RunPython(assign, migrations.RunPython.noop)]
