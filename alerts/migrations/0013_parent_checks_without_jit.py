from django.db import migrations

from core.parent_keys import statement_parent_check


class Migration(migrations.Migration):
    """The alerts' checks of their transaction and score rewritten as core/parent_keys.py writes them now (without
    JIT: the plan's disabled scans cost far above jit_above_cost, so every statement compiled its check first), so a
    database made before has the same functions as a new one."""

    dependencies = [
        ("alerts", "0012_score_reference_by_statement"),
        ("detection", "0015_scores_partitioned_by_month"),
    ]

    operations = [
        statement_parent_check(
            child="alerts_alert",
            column="transaction_id",
            parent="transactions_transaction",
            lock="table",
            nullable=True,
        ),
        statement_parent_check(
            child="alerts_alert", column="score_id", parent="detection_score", lock="table", nullable=True
        ),
    ]
