from django.db import migrations

from core.parent_keys import statement_parent_check


class Migration(migrations.Migration):
    """The review items' checks of their score and transaction rewritten as core/parent_keys.py writes them now
    (without JIT: the plan's disabled scans cost far above jit_above_cost, so every statement compiled its check
    first), so a database made before has the same functions as a new one."""

    dependencies = [
        ("review", "0007_offer_reason"),
        ("detection", "0015_scores_partitioned_by_month"),
    ]

    operations = [
        statement_parent_check(child="review_reviewitem", column="score_id", parent="detection_score", lock="table"),
        statement_parent_check(
            child="review_reviewitem", column="transaction_id", parent="transactions_transaction", lock="table"
        ),
    ]
