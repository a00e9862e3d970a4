"""Items keep their origin: live traffic, or a person's upload (reviewed in the upload's own view, never the live
queue). Items queued before this (an upload's, linked to no job; or of a transaction imported with its label) are
taken out of the live queue: marked of an upload, and those still to do closed without a decision, with a note."""

import django.db.models.deletion
from django.db import migrations, models

ACTIVE = ("open", "in_review")
UPLOAD_NOTE = "Closed when uploads left the live queue (migration review 0005): from an upload, no label given."
LABELLED_NOTE = "Closed when uploads left the live queue (migration review 0005): it arrived labelled."


def _close(ReviewItem, ReviewDecision, items, note: str) -> None:
    ids = list(items.filter(status__in=ACTIVE).values_list("pk", flat=True))
    ReviewItem.objects.filter(pk__in=ids).update(status="closed", assignee=None)
    ReviewDecision.objects.bulk_create([ReviewDecision(item_id=pk, note=note) for pk in ids], batch_size=1000)


def imported_items_out_of_the_live_queue(apps, schema_editor):
    ReviewItem = apps.get_model("review", "ReviewItem")
    ReviewDecision = apps.get_model("review", "ReviewDecision")
    uploads = ReviewItem.objects.filter(transaction__source__kind="upload")
    uploads.update(origin="upload")
    _close(ReviewItem, ReviewDecision, ReviewItem.objects.filter(origin="upload"), UPLOAD_NOTE)
    labelled = ReviewItem.objects.filter(origin="live", transaction__label_source="import")
    _close(ReviewItem, ReviewDecision, labelled, LABELLED_NOTE)


class Migration(migrations.Migration):

    dependencies = [
        ('detection', '0011_decisions'),
        ('review', '0004_parent_check_probes_key'),
    ]

    operations = [
        migrations.AddField(
            model_name='reviewitem',
            name='job',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='review_items', to='detection.scoringjob'),
        ),
        migrations.AddField(
            model_name='reviewitem',
            name='origin',
            field=models.CharField(choices=[('live', 'Live traffic'), ('upload', 'An upload')], default='live', max_length=16),
        ),
        migrations.AlterField(
            model_name='reviewitem',
            name='status',
            field=models.CharField(choices=[('open', 'Open'), ('in_review', 'In review'), ('decided', 'Decided'), ('closed', 'Closed')], default='open', max_length=16),
        ),
        migrations.RunPython(imported_items_out_of_the_live_queue, migrations.RunPython.noop, elidable=True),
    ]
