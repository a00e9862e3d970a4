from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db.models import Q
from django.utils import timezone

from alerts.models import AlertDelivery
from alerts.services import alerts_evaluate_pending
from alerts.tasks import alert_delivery_send, retry_delay


class Command(BaseCommand):
    help = (
        "Evaluate the alert rules on scores whose evaluation could not be queued, then queue again every due delivery "
        "still pending (e.g. the broker was down when they were created)."
    )

    def handle(self, *args, **options):
        evaluated = alerts_evaluate_pending(limit=1_000_000)
        self.stdout.write(f"Evaluated the rules on {evaluated} score(s) whose evaluation could not be queued.")
        now = timezone.now()
        due = AlertDelivery.objects.filter(
            Q(status=AlertDelivery.Status.PENDING) | Q(status=AlertDelivery.Status.SENDING),
            scheduled_for__lte=now,
        ).values_list("id", "status", "attempts", "last_attempt_at")
        count = waiting = 0
        for delivery_id, status, attempts, last_attempt_at in due.iterator():
            # A failed attempt's retry is queued with its backoff: sending it now would cut the backoff short.
            retried = status == AlertDelivery.Status.PENDING and attempts and last_attempt_at is not None
            if retried and last_attempt_at + timedelta(seconds=retry_delay(attempts)) > now:
                waiting += 1
                continue
            alert_delivery_send.delay(delivery_id)
            count += 1
        self.stdout.write(
            f"Queued {count} delivery(ies); the claim step skips any already being sent. "
            f"{waiting} waiting out a retry's backoff left to their retry."
        )
