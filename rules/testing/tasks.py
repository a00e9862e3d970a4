"""The test on history's Celery task: thin, taking the test's id; acks_late, and the claim makes a rerun harmless."""

from celery import shared_task

from rules.testing.services import rule_test_execute


@shared_task(name="rules.testing.tasks.rule_test_task", acks_late=True, reject_on_worker_lost=True)
def rule_test_task(test_id: int) -> str:
    test = rule_test_execute(test_id=test_id)
    return test.status if test is not None else "skipped"
