from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self) -> None:
        from alerts.selectors import alert_rules_invalidate
        from alerts.services import alerts_evaluate_drift, alerts_evaluate_stored
        from detection.scoring.events import scores_stored_subscribe
        from monitoring.events import drift_measured_subscribe

        scores_stored_subscribe(alerts_evaluate_stored)
        drift_measured_subscribe(alerts_evaluate_drift)
        # The rules' conditions that screen which new scores are sent for evaluation are cached per process:
        # however a rule is written, this process stops using its copy.
        for signal in (post_save, post_delete):
            signal.connect(
                alert_rules_invalidate,
                sender="alerts.AlertRule",
                dispatch_uid=f"alerts.alert_rules_invalidate.{signal is post_save}",
                weak=False,
            )
