from celery import shared_task

from monitoring.services import drift_check


@shared_task(name="monitoring.drift_check", acks_late=True, ignore_result=True)
def drift_check_task() -> dict[int, int]:
    """Celery beat's daily drift check: yesterday (UTC) for every organisation with an active model version. A rerun
    replaces the day's measurements and fires no alert twice (one per rule, day and feature)."""
    return drift_check()
