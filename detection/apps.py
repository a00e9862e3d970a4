from django.apps import AppConfig
from django.db.models.signals import post_save


class DetectionConfig(AppConfig):
    name = "detection"

    def ready(self) -> None:
        from core.metrics import gauges_register
        from detection import checks  # noqa: F401 - registers the system checks
        from detection.jobs.selectors import job_rows_gauge
        from detection.policy.selectors import risk_policy_invalidate
        from detection.training.selectors import active_models_gauge

        # However a policy row is written (service, shell, factory), this process stops using its cached copy.
        post_save.connect(
            lambda **kwargs: risk_policy_invalidate(),
            sender="detection.RiskPolicy",
            dispatch_uid="detection.risk_policy_invalidate",
            weak=False,
        )
        gauges_register(job_rows_gauge)
        gauges_register(active_models_gauge)
