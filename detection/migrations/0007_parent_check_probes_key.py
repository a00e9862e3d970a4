from django.db import migrations

from core.parent_keys import statement_parent_check


class Migration(migrations.Migration):
    """A score's transaction is checked by probing the transactions' primary key, however the session planned it."""

    dependencies = [
        ("detection", "0006_parent_key_by_statement"),
    ]

    operations = [
        statement_parent_check(
            child="detection_score", column="transaction_id", parent="transactions_transaction", lock="table"
        ),
    ]
