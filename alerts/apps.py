from django.apps import AppConfig
from django.db.models.signals import post_save


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self) -> None:
        from alerts.selectors import risk_policy_invalidate

        # However a policy row is written (service, shell, factory), this process stops using its cached copy.
        post_save.connect(
            lambda **kwargs: risk_policy_invalidate(),
            sender="detection.RiskPolicy",
            dispatch_uid="alerts.risk_policy_invalidate",
            weak=False,
        )
