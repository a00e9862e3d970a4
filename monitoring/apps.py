from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"

    def ready(self) -> None:
        from core.metrics import gauges_register
        from monitoring.selectors import drift_gauge

        gauges_register(drift_gauge)
