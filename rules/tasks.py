"""Where Celery's autodiscovery finds the rules app's tasks: each part keeps its own."""

from rules.testing.tasks import rule_test_task

__all__ = ["rule_test_task"]
