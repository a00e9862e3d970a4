"""Reads of tests on history: a rule's tests, and one test for the organisation it belongs to (404 otherwise)."""

from django.db.models import QuerySet
from django.http import Http404

from rules.models import Rule, RuleTest


def rule_test_summaries(*, rule: Rule) -> QuerySet[RuleTest]:
    """The rule's tests, newest first, without their reports."""
    tests = RuleTest.objects.filter(rule_version__rule=rule).select_related("rule_version", "created_by")
    return tests.defer("report").order_by("-created_at", "-id")


def rule_test_get(*, organisation_id: int | None, test_id: int) -> RuleTest:
    """The test if its rule is the organisation's; Http404 otherwise, whether it exists or not."""
    tests = RuleTest.objects.filter(pk=test_id, rule_version__rule__organisation_id=organisation_id)
    test = tests.select_related("rule_version__rule", "created_by").first() if organisation_id else None
    if test is None:
        raise Http404("No such test.")
    return test
