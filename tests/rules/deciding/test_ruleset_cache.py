"""Each process compiles an organisation's rules in force once and again only after `rules_changed` (checked at most
once a second), or from PostgreSQL while Redis does not answer."""

import pytest
from redis.exceptions import RedisError

from rules.deciding import ruleset
from rules.deciding.ruleset import active_rule_set
from rules.models import RuleVersion
from rules.policy.revision import rules_changed
from tests.factories import RuleVersionFactory, default_organisation
from tests.rules.deciding.conftest import rule_in_force

pytestmark = pytest.mark.django_db


@pytest.fixture
def every_call_checks(monkeypatch):
    monkeypatch.setattr(ruleset, "CHECK_INTERVAL_SECONDS", 0.0)


def rule_names(organisation_id: int) -> list[str]:
    return [rule.name for rule in active_rule_set(organisation_id=organisation_id).rules]


def test_the_rules_in_force_are_compiled_with_what_they_read(organisation):
    rule_in_force('amount > 500 and attributes.mcc == "7995"', "block", name="b")
    rule_in_force("score >= 0.9", "review", name="a")

    compiled = active_rule_set(organisation_id=organisation.pk)

    assert [rule.name for rule in compiled.rules] == ["a", "b"]
    assert compiled.fields == {"amount", "attributes.mcc", "score"}


def test_a_change_is_seen_only_once_announced(organisation, every_call_checks):
    first = rule_in_force("amount > 500", "block", name="first")
    assert rule_names(organisation.pk) == ["first"]
    compiled = active_rule_set(organisation_id=organisation.pk)

    RuleVersion.objects.filter(pk=first.pk).update(status=RuleVersion.Status.RETIRED)
    RuleVersionFactory(rule=first.rule, version=2, expression="amount > 1", status=RuleVersion.Status.ACTIVE)
    assert active_rule_set(organisation_id=organisation.pk) is compiled  # cached: nothing announced yet

    rules_changed(organisation.pk)

    reloaded = active_rule_set(organisation_id=organisation.pk)
    assert [(rule.name, rule.version) for rule in reloaded.rules] == [("first", 2)]


def test_a_disabled_rule_leaves_the_set_once_announced(organisation, every_call_checks):
    version = rule_in_force("amount > 500", "block", name="first")
    assert rule_names(organisation.pk) == ["first"]

    RuleVersion.objects.filter(pk=version.pk).update(status=RuleVersion.Status.DISABLED)
    rules_changed(organisation.pk)

    assert rule_names(organisation.pk) == []


def test_within_the_check_interval_no_lookup_is_made(organisation, django_assert_num_queries):
    rule_in_force("amount > 500", "block", name="first")
    active_rule_set(organisation_id=organisation.pk)

    with django_assert_num_queries(0):
        active_rule_set(organisation_id=organisation.pk)


def test_while_redis_does_not_answer_postgresql_says_what_is_in_force(organisation, every_call_checks, monkeypatch):
    version = rule_in_force("amount > 500", "block", name="first")
    assert rule_names(organisation.pk) == ["first"]

    def down(*args, **kwargs):
        raise RedisError("down")

    monkeypatch.setattr("rules.policy.revision.cache.get", down)
    RuleVersion.objects.filter(pk=version.pk).update(status=RuleVersion.Status.DISABLED)

    assert rule_names(organisation.pk) == []


def test_each_organisation_has_its_own_set(organisation, other_organisation):
    rule_in_force("amount > 500", "block", name="mine")
    rule_in_force("amount > 1", "block", name="theirs", organisation=other_organisation)

    assert rule_names(organisation.pk) == ["mine"]
    assert rule_names(other_organisation.pk) == ["theirs"]
    assert default_organisation() == organisation
