from django.apps import AppConfig


class StreamingConfig(AppConfig):
    name = "streaming"

    def ready(self) -> None:
        from core.metrics import gauges_register
        from streaming.selectors import consumers_gauge

        gauges_register(consumers_gauge)
