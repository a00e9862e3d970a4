from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self) -> None:
        from alerts.selectors import alert_rules_invalidate, risk_policy_invalidate

        # However a policy row is written (service, shell, factory), this process stops using its cached copy.
        post_save.connect(
            lambda **kwargs: risk_policy_invalidate(),
            sender="detection.RiskPolicy",
            dispatch_uid="alerts.risk_policy_invalidate",
            weak=False,
        )
        # Likewise for the rules' conditions that screen which new scores are sent for evaluation.
        for signal in (post_save, post_delete):
            signal.connect(
                alert_rules_invalidate,
                sender="alerts.AlertRule",
                dispatch_uid=f"alerts.alert_rules_invalidate.{signal is post_save}",
                weak=False,
            )
