from celery import shared_task

from transactions.partitions import transaction_months_ahead


@shared_task(name="transactions.partitions_ahead", acks_late=True)
def partitions_ahead() -> list[str]:
    """Beat's daily look: this month's transactions partition and the next three exist (idempotent)."""
    return [month.isoformat() for month in transaction_months_ahead()]
