"""Fixtures of the decision tests: the detection tests' trained model and partner clients, and rules put in force
directly (their life cycle is tests/rules/policy's)."""

import pytest

from rules.deciding.ruleset import rule_sets_forget
from rules.lists.lookup import memberships_forget
from rules.models import RuleVersion
from tests.detection.conftest import (  # noqa: F401 - fixtures
    active_model,
    history,
    make_partner,
    scorer,
    trained_model,
)
from tests.factories import RuleFactory, RuleVersionFactory


def rule_in_force(expression: str, action: str, *, name: str | None = None, tag: str = "", organisation=None):
    """An active version 1 of a new rule; this process reads the rules in force again."""
    rule = RuleFactory(**({"name": name} if name else {}), **({"organisation": organisation} if organisation else {}))
    version = RuleVersionFactory(
        rule=rule, expression=expression, action=action, tag=tag, status=RuleVersion.Status.ACTIVE
    )
    rule_sets_forget()
    return version


@pytest.fixture(autouse=True)
def _fresh_lists():
    memberships_forget()
    yield
    memberships_forget()
