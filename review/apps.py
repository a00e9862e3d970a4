from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "review"

    def ready(self) -> None:
        from core.metrics import gauges_register
        from detection.scoring.events import scores_stored_subscribe
        from review.selectors import review_queue_age_gauge, review_queue_depth_gauge
        from review.services import review_items_queue_stored

        scores_stored_subscribe(review_items_queue_stored)
        gauges_register(review_queue_depth_gauge)
        gauges_register(review_queue_age_gauge)
