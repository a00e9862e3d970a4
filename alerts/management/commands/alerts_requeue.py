from django.core.management.base import BaseCommand
from django.db.models import Q
from django.utils import timezone

from alerts.models import AlertDelivery
from alerts.services import alerts_evaluate_pending
from alerts.tasks import alert_delivery_send


class Command(BaseCommand):
    help = (
        "Evaluate the alert rules on scores whose evaluation could not be queued, then queue again every due delivery "
        "still pending (e.g. the broker was down when they were created)."
    )

    def handle(self, *args, **options):
        evaluated = alerts_evaluate_pending(limit=1_000_000)
        self.stdout.write(f"Evaluated the rules on {evaluated} score(s) whose evaluation could not be queued.")
        due = AlertDelivery.objects.filter(
            Q(status=AlertDelivery.Status.PENDING) | Q(status=AlertDelivery.Status.SENDING),
            scheduled_for__lte=timezone.now(),
        ).values_list("id", flat=True)
        count = 0
        for delivery_id in due.iterator():
            alert_delivery_send.delay(delivery_id)
            count += 1
        self.stdout.write(f"Queued {count} delivery(ies); the claim step skips any already being sent.")
