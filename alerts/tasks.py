"""Thin Celery tasks: take ids, call a service, retry with exponential backoff when the service says so."""

from celery import shared_task
from django.conf import settings

from alerts.delivery import alert_delivery_attempt
from alerts.services import alerts_evaluate, alerts_evaluate_pending


def retry_delay(attempts: int) -> float:
    """Seconds before the next try: ALERTS_RETRY_BACKOFF doubled after every failed attempt, capped."""
    return min(settings.ALERTS_RETRY_BACKOFF * 2 ** max(attempts - 1, 0), settings.ALERTS_RETRY_BACKOFF_MAX)


@shared_task(name="alerts.evaluate", acks_late=True, ignore_result=True)
def alerts_evaluate_task(score_ids: list[int], organisation_id: int | None = None) -> int:
    """The organisation's rules on these scores (every organisation's when None: messages queued before
    organisations)."""
    return len(alerts_evaluate(score_ids=score_ids, organisation_id=organisation_id))


@shared_task(name="alerts.evaluate_pending", ignore_result=True)
def alerts_evaluate_pending_task() -> int:
    """Celery beat's: the scores whose evaluation could not be queued while the broker was down."""
    return alerts_evaluate_pending()


@shared_task(bind=True, name="alerts.deliver", acks_late=True, ignore_result=True, max_retries=None)
def alert_delivery_send(self, delivery_id: int) -> str:
    outcome = alert_delivery_attempt(delivery_id=delivery_id)
    if outcome.status == "retry":
        raise self.retry(countdown=retry_delay(outcome.attempts))
    return outcome.status
