from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from core.models import AuditEvent
from rules.lists import services
from rules.lists.services import ListRefused
from rules.models import ListEntry, Rule, RuleVersion, ValueList
from tests.factories import ListEntryFactory, ValueListFactory

pytestmark = pytest.mark.django_db


def values_of(value_list) -> dict[str, tuple]:
    return {e.value: (e.expires_at, e.note) for e in ListEntry.objects.filter(value_list=value_list)}


def test_create_makes_an_empty_list_audited_with_its_author(organisation, analyst):
    value_list = services.value_list_create(
        organisation_id=organisation.pk, name="blocked_merchants", kind="merchant", description="Ours", user=analyst
    )
    assert (value_list.name, value_list.kind, value_list.revision, value_list.created_by) == (
        "blocked_merchants",
        "merchant",
        1,
        analyst,
    )
    event = AuditEvent.objects.get(action="list.create")
    assert (event.actor, event.object_id, event.organisation_id) == (analyst, str(value_list.pk), organisation.pk)


@pytest.mark.parametrize(
    ("name", "kind", "field"),
    [("Blocked", "merchant", "name"), ("9lives", "merchant", "name"), ("ok_name", "planet", "kind")],
)
def test_create_refuses_a_bad_name_or_kind_naming_the_field(organisation, name, kind, field):
    with pytest.raises(ListRefused) as refused:
        services.value_list_create(organisation_id=organisation.pk, name=name, kind=kind)
    assert refused.value.field == field
    assert not ValueList.objects.exists()


def test_create_refuses_a_name_the_organisation_has(organisation, other_organisation):
    ValueListFactory(name="vip")
    ValueListFactory(name="vip_too", organisation=other_organisation)
    with pytest.raises(ListRefused) as refused:
        services.value_list_create(organisation_id=organisation.pk, name="vip", kind="account")
    assert (refused.value.field, refused.value.code) == ("name", "unique")
    assert services.value_list_create(organisation_id=other_organisation.pk, name="vip", kind="account")


@pytest.mark.parametrize(
    ("kind", "given", "stored"),
    [
        ("country", " fr ", "FR"),
        ("card_bin", "411111", "411111"),
        ("card_bin", "41111122", "41111122"),
        ("ip", "2001:DB8:0::1", "2001:db8::1"),
        ("ip", "10.0.0.7", "10.0.0.7"),
        ("merchant", "  M-12 ", "M-12"),
        ("text", "Any words", "Any words"),
    ],
)
def test_values_are_stored_normalised_by_kind(kind, given, stored):
    value_list = ValueListFactory(kind=kind)
    services.list_entries_add(value_list=value_list, values=[given])
    assert list(values_of(value_list)) == [stored]


@pytest.mark.parametrize(
    ("kind", "given", "words"),
    [
        ("country", "XX", "'XX' is not an ISO 3166-1 alpha-2"),
        ("country", "FRA", "'FRA' is not an ISO 3166-1 alpha-2"),
        ("card_bin", "41111", "'41111' is not a card BIN"),
        ("card_bin", "411111234", "'411111234' is not a card BIN"),
        ("card_bin", "4111a1", "'4111a1' is not a card BIN"),
        ("ip", "300.1.1.1", "'300.1.1.1' is not an IP address"),
        ("account", "   ", "cannot be empty"),
        ("account", "x" * 257, "longer than 256 characters"),
    ],
)
def test_a_bad_value_is_refused_naming_it_and_its_position(kind, given, words):
    value_list = ValueListFactory(kind=kind)
    with pytest.raises(ListRefused) as refused:
        services.list_entries_add(value_list=value_list, values=[given])
    assert refused.value.field == "values.0"
    assert words in refused.value.reason
    assert not ListEntry.objects.exists()


def test_the_position_of_the_bad_value_is_named():
    value_list = ValueListFactory(kind="country")
    with pytest.raises(ListRefused) as refused:
        services.list_entries_add(value_list=value_list, values=["FR", "DE", "Germany"])
    assert refused.value.field == "values.2"
    assert "'Germany'" in refused.value.reason


def test_every_change_bumps_the_revision():
    value_list = ValueListFactory(kind="account")
    revisions = [value_list.revision]
    services.list_entries_add(value_list=value_list, values=["a1", "a2"])
    revisions.append(ValueList.objects.get(pk=value_list.pk).revision)
    services.list_entries_remove(value_list=value_list, values=["a1"])
    revisions.append(ValueList.objects.get(pk=value_list.pk).revision)
    assert revisions == [0, 1, 2]


def test_re_adding_a_value_updates_its_expiry_and_note():
    value_list = ValueListFactory(kind="account")
    first = services.list_entries_add(value_list=value_list, values=["a1", "a2"], note="first")
    later = timezone.now() + timedelta(days=3)
    second = services.list_entries_add(value_list=value_list, values=["a1"], expires_at=later, note="second")
    again = services.list_entries_add(value_list=value_list, values=["a1"], expires_at=later, note="second")
    assert (first.added, second.added, second.updated, again.unchanged) == (2, 0, 1, 1)
    assert values_of(value_list) == {"a1": (later, "second"), "a2": (None, "first")}


def test_an_expiry_already_past_is_refused():
    value_list = ValueListFactory(kind="account")
    with pytest.raises(ListRefused) as refused:
        services.list_entries_add(value_list=value_list, values=["a1"], expires_at=datetime(2020, 1, 1, tzinfo=UTC))
    assert refused.value.field == "expires_at"


def test_remove_takes_the_values_out_whatever_their_spelling():
    value_list = ValueListFactory(kind="country")
    ListEntryFactory(value_list=value_list, value="FR")
    ListEntryFactory(value_list=value_list, value="DE")
    outcome = services.list_entries_remove(value_list=value_list, values=["fr", "IT"])
    assert (outcome.removed, outcome.unchanged) == (1, 1)
    assert list(values_of(value_list)) == ["DE"]


def test_changes_are_audited_with_who_and_what(analyst):
    value_list = ValueListFactory(kind="account")
    services.list_entries_add(value_list=value_list, values=["a1", "a2"], note="fraud ring", user=analyst)
    services.list_entries_remove(value_list=value_list, values=["a2"], user=analyst)
    events = AuditEvent.objects.filter(object_type="rules.valuelist", object_id=str(value_list.pk)).order_by("id")
    assert [(e.action, e.actor, e.after["values"]) for e in events] == [
        ("list.entries_add", analyst, ["a1", "a2"]),
        ("list.entries_remove", analyst, ["a2"]),
    ]
    assert events[0].after["added"] == 2 and events[0].after["note"] == "fraud ring"
    assert events[0].created_at is not None


def _active_rule(organisation, expression: str, status=RuleVersion.Status.ACTIVE) -> Rule:
    rule = Rule.objects.create(organisation=organisation, name="blocker")
    RuleVersion.objects.create(rule=rule, version=1, expression=expression, action="block", status=status)
    return rule


def test_a_list_an_active_rule_reads_cannot_be_deleted(organisation):
    value_list = ValueListFactory(name="blocked")
    _active_rule(organisation, "merchant_id in lists . blocked and amount > 5")
    with pytest.raises(ListRefused) as refused:
        services.value_list_delete(value_list=value_list)
    assert refused.value.code == "in_use"
    assert "blocker" in refused.value.reason
    assert ValueList.objects.filter(pk=value_list.pk).exists()


@pytest.mark.parametrize(
    ("expression", "status"),
    [
        ("merchant_id in lists.blocked_cards", RuleVersion.Status.ACTIVE),  # another list, whose name starts alike
        ("merchant_id in lists.blocked", RuleVersion.Status.DRAFT),  # not in force
    ],
)
def test_a_list_no_active_rule_reads_is_deleted_with_its_entries(organisation, analyst, expression, status):
    value_list = ValueListFactory(name="blocked")
    ListEntryFactory(value_list=value_list)
    _active_rule(organisation, expression, status)
    services.value_list_delete(value_list=value_list, user=analyst)
    assert not ValueList.objects.filter(pk=value_list.pk).exists()
    assert not ListEntry.objects.exists()
    event = AuditEvent.objects.get(action="list.delete")
    assert (event.actor, event.before["entries"], event.organisation_id) == (analyst, 1, organisation.pk)
