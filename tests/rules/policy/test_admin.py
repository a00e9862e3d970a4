"""Rules in the admin: read-only history scoped by organisation, and one action that disables rules."""

import pytest

from accounts.services import ADMIN
from core.models import AuditEvent
from rules.models import RuleTest
from rules.policy import services
from tests.factories import UserFactory


@pytest.fixture
def staff_client(client, organisation):
    """Staff (not a superuser) of the test organisation only, with the admin role (rules.publish included)."""
    client.force_login(UserFactory(username="stan", roles=[ADMIN], is_staff=True, organisations=[organisation]))
    return client


def active_rule(organisation, name):
    version = services.rule_create(organisation_id=organisation.pk, name=name, expression="amount > 5", action="block")
    return services.rule_publish(rule=version.rule, untested=True).rule


def test_staff_see_their_organisations_rules_versions_and_tests_only(staff_client, organisation, other_organisation):
    ours = active_rule(organisation, "ours_rule")
    theirs = active_rule(other_organisation, "theirs_rule")
    RuleTest.objects.create(rule_version=theirs.versions.get())

    listed = staff_client.get("/admin/rules/rule/").content
    versions = staff_client.get("/admin/rules/ruleversion/").content

    assert b"ours_rule" in listed and b"theirs_rule" not in listed
    assert b"ours_rule" in versions and b"theirs_rule" not in versions
    assert staff_client.get(f"/admin/rules/rule/{theirs.pk}/change/").status_code == 302  # "does not exist"
    assert staff_client.get(f"/admin/rules/rule/{ours.pk}/change/").status_code == 200
    assert b"0 rule tests" in staff_client.get("/admin/rules/ruletest/").content


def test_rules_are_not_added_or_changed_in_the_admin(staff_client, organisation):
    rule = active_rule(organisation, "ours_rule")

    assert staff_client.get("/admin/rules/rule/add/").status_code == 403
    staff_client.post(f"/admin/rules/rule/{rule.pk}/change/", {"name": "renamed", "organisation": organisation.pk})

    rule.refresh_from_db()
    assert rule.name == "ours_rule"


def test_the_disable_action_stops_the_selected_rules_and_is_audited(staff_client, organisation):
    rule = active_rule(organisation, "ours_rule")

    staff_client.post("/admin/rules/rule/", {"action": "disable", "_selected_action": [rule.pk]})

    assert rule.versions.get().status == "disabled"
    event = AuditEvent.objects.get(action="rule.disable")
    assert (event.actor_label, event.organisation_id, event.object_id) == ("stan", organisation.pk, str(rule.pk))


def test_staff_without_the_publish_permission_are_not_offered_the_action(client, organisation):
    client.force_login(UserFactory(username="vera", roles=["viewer"], is_staff=True, organisations=[organisation]))
    rule = active_rule(organisation, "ours_rule")

    client.post("/admin/rules/rule/", {"action": "disable", "_selected_action": [rule.pk]})

    assert rule.versions.get().status == "active"
