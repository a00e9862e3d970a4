from django.db import migrations

from core.parent_keys import statement_parent_check


class Migration(migrations.Migration):
    """A review item's score and transaction are checked by probing their primary keys, however the session planned
    it (planned while the scores were few, the check read every score for each batch queued)."""

    dependencies = [
        ("review", "0003_parent_key_by_statement"),
    ]

    operations = [
        statement_parent_check(child="review_reviewitem", column="score_id", parent="detection_score", lock="table"),
        statement_parent_check(
            child="review_reviewitem", column="transaction_id", parent="transactions_transaction", lock="table"
        ),
    ]
