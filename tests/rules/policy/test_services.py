"""The rule life cycle: create a draft, edit into new versions, publish (retiring the version replaced), disable;
each change validated, audited and announced to the scoring processes."""

import pytest
from django.core.cache import cache

from core.models import AuditEvent
from rules.models import RuleVersion
from rules.policy import services
from rules.policy.revision import RULES_REVISION_KEY, rules_revision
from rules.policy.selectors import active_rule_versions
from tests.factories import ValueListFactory

Status = RuleVersion.Status


def create(organisation, user=None, **kwargs):
    values = {"name": "big_online", "expression": 'amount > 500 and channel == "online"', "action": "review"}
    return services.rule_create(organisation_id=organisation.pk, user=user, **values | kwargs)


def test_a_new_rule_is_a_draft_version_1(organisation, admin_user):
    version = create(organisation, admin_user, description="Large online payments.")

    assert (version.version, version.status, version.action) == (1, Status.DRAFT, "review")
    assert version.rule.organisation == organisation
    assert version.created_by == admin_user
    assert list(active_rule_versions(organisation_id=organisation.pk)) == []


def test_an_invalid_expression_is_refused_with_its_position(organisation):
    with pytest.raises(services.ExpressionError) as refused:
        create(organisation, expression="amout > 500")

    assert refused.value.position == 0
    assert "amout" in refused.value.reason
    assert not RuleVersion.objects.exists()


def test_a_type_mismatch_is_refused_at_its_position(organisation):
    with pytest.raises(services.ExpressionError) as refused:
        create(organisation, expression='amount > "x"')

    assert refused.value.position > 0
    assert str(refused.value).startswith(f"position {refused.value.position}: ")


def test_an_unknown_list_is_refused(organisation):
    with pytest.raises(services.ExpressionError) as refused:
        create(organisation, expression="merchant_id in lists.nowhere")

    assert "nowhere" in refused.value.reason


def test_a_list_of_the_organisation_may_be_read(organisation):
    ValueListFactory(organisation=organisation, name="blocked_merchants", kind="merchant")

    version = create(organisation, expression="merchant_id in lists.blocked_merchants", action="block")

    assert version.status == Status.DRAFT


def test_another_organisations_list_may_not_be_read(organisation, other_organisation):
    ValueListFactory(organisation=other_organisation, name="blocked_merchants", kind="merchant")

    with pytest.raises(services.ExpressionError):
        create(organisation, expression="merchant_id in lists.blocked_merchants")


@pytest.mark.parametrize(
    ("values", "field"),
    [({"name": "Big Online"}, "name"), ({"action": "deny"}, "action"), ({"tag": "vip"}, "tag")],
)
def test_bad_names_actions_and_tags_are_refused_naming_the_field(organisation, values, field):
    with pytest.raises(services.RuleRefused) as refused:
        create(organisation, **values)

    assert refused.value.field == field


def test_a_name_is_taken_once_per_organisation(organisation, other_organisation):
    create(organisation)
    create(other_organisation)

    with pytest.raises(services.RuleRefused) as refused:
        create(organisation)

    assert (refused.value.field, refused.value.code) == ("name", "unique")


def test_an_untested_draft_is_not_published_without_confirmation(organisation, admin_user):
    version = create(organisation)

    with pytest.raises(services.RuleRefused) as refused:
        services.rule_publish(rule=version.rule, user=admin_user)

    assert refused.value.code == "untested"
    version.refresh_from_db()
    assert version.status == Status.DRAFT


def test_publishing_puts_the_latest_version_in_force(organisation, admin_user):
    version = create(organisation)

    published = services.rule_publish(rule=version.rule, user=admin_user, untested=True)

    assert (published.pk, published.status, published.published_by) == (version.pk, Status.ACTIVE, admin_user)
    assert list(active_rule_versions(organisation_id=organisation.pk)) == [published]


def test_a_tested_version_is_published_without_confirmation(organisation, admin_user):
    version = create(organisation)
    services.rule_version_mark_tested(version=version)

    assert services.rule_publish(rule=version.rule, user=admin_user).status == Status.ACTIVE


def test_editing_an_active_rule_makes_a_draft_while_the_active_version_decides(organisation, admin_user):
    first = services.rule_publish(rule=create(organisation).rule, untested=True)

    draft = services.rule_edit(rule=first.rule, expression="amount > 900", action="block", user=admin_user)

    first.refresh_from_db()
    assert (draft.version, draft.status, first.status) == (2, Status.DRAFT, Status.ACTIVE)
    assert list(active_rule_versions(organisation_id=organisation.pk)) == [first]


def test_publishing_the_draft_retires_the_version_it_replaces(organisation, admin_user):
    first = services.rule_publish(rule=create(organisation).rule, untested=True)
    draft = services.rule_edit(rule=first.rule, expression="amount > 900", action="block")

    services.rule_publish(rule=first.rule, user=admin_user, untested=True)

    first.refresh_from_db()
    draft.refresh_from_db()
    assert (first.status, draft.status) == (Status.RETIRED, Status.ACTIVE)
    assert list(active_rule_versions(organisation_id=organisation.pk)) == [draft]


def test_an_edit_replaces_an_unpublished_draft(organisation):
    first = create(organisation)

    second = services.rule_edit(rule=first.rule, expression="amount > 900", action="review")

    first.refresh_from_db()
    assert (first.status, second.version, second.status) == (Status.RETIRED, 2, Status.DRAFT)


def test_an_edit_with_an_invalid_expression_makes_no_version(organisation):
    first = create(organisation)

    with pytest.raises(services.ExpressionError):
        services.rule_edit(rule=first.rule, expression="amount >", action="review")

    assert first.rule.versions.count() == 1


def test_disabling_stops_the_version_in_force(organisation, admin_user):
    version = services.rule_publish(rule=create(organisation).rule, untested=True)

    disabled = services.rule_disable(rule=version.rule, user=admin_user)

    assert (disabled.pk, disabled.status) == (version.pk, Status.DISABLED)
    assert list(active_rule_versions(organisation_id=organisation.pk)) == []


def test_a_disabled_version_is_published_again(organisation):
    version = services.rule_publish(rule=create(organisation).rule, untested=True)
    services.rule_disable(rule=version.rule)

    again = services.rule_publish(rule=version.rule)

    assert (again.pk, again.status) == (version.pk, Status.ACTIVE)


def test_a_rule_without_a_version_in_force_cannot_be_disabled(organisation):
    version = create(organisation)

    with pytest.raises(services.RuleRefused) as refused:
        services.rule_disable(rule=version.rule)

    assert refused.value.code == "inactive"


def test_publishing_a_version_already_in_force_is_refused(organisation):
    version = services.rule_publish(rule=create(organisation).rule, untested=True)

    with pytest.raises(services.RuleRefused) as refused:
        services.rule_publish(rule=version.rule, untested=True)

    assert refused.value.code == "active"


def test_every_change_is_audited_with_who(organisation, admin_user):
    version = create(organisation, admin_user)
    services.rule_edit(rule=version.rule, expression="amount > 900", action="block", user=admin_user)
    services.rule_publish(rule=version.rule, user=admin_user, untested=True)
    services.rule_disable(rule=version.rule, user=admin_user)

    events = AuditEvent.objects.filter(object_type="rules.rule", object_id=str(version.rule_id)).order_by("id")
    assert [e.action for e in events] == ["rule.create", "rule.edit", "rule.publish", "rule.disable"]
    assert {e.actor for e in events} == {admin_user}
    assert {e.organisation_id for e in events} == {organisation.pk}
    assert [e.after["version"] for e in events] == [1, 2, 2, 2]
    assert events[1].before["expression"] == 'amount > 500 and channel == "online"'
    assert events[1].after["expression"] == "amount > 900"


@pytest.mark.django_db(transaction=True)
def test_publishing_and_disabling_tell_the_scoring_processes(organisation):
    cache.delete(RULES_REVISION_KEY.format(organisation_id=organisation.pk))
    version = create(organisation)
    assert rules_revision(organisation_id=organisation.pk) == 0

    services.rule_publish(rule=version.rule, untested=True)
    published = rules_revision(organisation_id=organisation.pk)
    services.rule_disable(rule=version.rule)

    assert published > 0
    assert rules_revision(organisation_id=organisation.pk) > published
