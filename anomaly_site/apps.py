from django.apps import AppConfig


class AnomalySiteConfig(AppConfig):
    name = "anomaly_site"

    def ready(self) -> None:
        from anomaly_site.celery import celery_queues_gauge
        from core.metrics import gauges_register

        gauges_register(celery_queues_gauge)
