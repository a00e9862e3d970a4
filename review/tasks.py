"""Thin Celery tasks of the review queue."""

from celery import shared_task

from review.services import review_queue_offer, review_queue_offer_all


@shared_task(name="review.queue_offer", acks_late=True, ignore_result=True)
def review_queue_offer_task(organisation_id: int) -> int:
    """The queue policy over the organisation's open items, after new items arrived."""
    return review_queue_offer(organisation_id=organisation_id)


@shared_task(name="review.queue_offer_all", ignore_result=True)
def review_queue_offer_all_task() -> int:
    """Celery beat's: the queue policy for every organisation, so each day's budget is offered anew."""
    return review_queue_offer_all()
