from django.apps import AppConfig
from django.db.models.signals import post_save


class DetectionConfig(AppConfig):
    name = "detection"

    def ready(self) -> None:
        from core.metrics import gauges_register
        from detection import checks  # noqa: F401 - registers the system checks
        from detection.jobs.selectors import job_rows_gauge, jobs_status_gauge
        from detection.policy.selectors import risk_policy_invalidate
        from detection.training.selectors import active_models_gauge
        from transactions.partitions import Follower, partitioned_with_transactions

        # However a policy row is written (service, shell, factory), this process stops using its cached copy.
        post_save.connect(
            lambda **kwargs: risk_policy_invalidate(),
            sender="detection.RiskPolicy",
            dispatch_uid="detection.risk_policy_invalidate",
            weak=False,
        )
        gauges_register(job_rows_gauge)
        gauges_register(jobs_status_gauge)
        gauges_register(active_models_gauge)
        # Scores are partitioned by their transaction's month (detection 0015): made and archived with its months.
        for table, folder, json_columns in (
            ("detection_score", "scores", ("components", "reasons", "rules")),
            ("detection_shadowscore", "shadow_scores", ("components",)),
        ):
            partitioned_with_transactions(Follower(table, "transaction_time", folder, json_columns))
