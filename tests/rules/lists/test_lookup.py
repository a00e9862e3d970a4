from datetime import timedelta

import numpy as np
import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone

from rules.lists import lookup, services
from rules.lists.lookup import LISTS_REVISION_KEY, list_memberships
from rules.models import ListEntry, ValueList
from tests.factories import ListEntryFactory, ValueListFactory

pytestmark = pytest.mark.django_db


def contains(organisation, name, values):
    """The list's answer for a column; one value at a time (a single score's path) must answer the same."""
    membership = list_memberships(organisation_id=organisation.pk)[name]
    column = list(membership.contains(np.array(values, dtype=object)))
    assert [membership.contains_one(value) for value in values] == column
    return column


def test_every_list_of_the_organisation_and_no_other(organisation, other_organisation):
    ValueListFactory(name="mine")
    ValueListFactory(name="theirs", organisation=other_organisation)
    assert set(list_memberships(organisation_id=organisation.pk)) == {"mine"}


def test_contains_answers_a_whole_column_missing_values_included(organisation):
    value_list = ValueListFactory(name="merchants")
    ListEntryFactory(value_list=value_list, value="M-1")
    ListEntryFactory(value_list=value_list, value="42")
    column = ["M-1", "M-2", None, "m-1", 42, 42.0, np.nan, ["M-1"], {"a": 1}]
    assert contains(organisation, "merchants", column) == [True, False, False, False, True, True, False, False, False]


def test_country_and_ip_values_are_looked_up_as_the_list_stores_them(organisation):
    countries = ValueListFactory(name="countries", kind="country")
    ips = ValueListFactory(name="ips", kind="ip")
    services.list_entries_add(value_list=countries, values=["fr"])
    services.list_entries_add(value_list=ips, values=["2001:db8::1", "10.0.0.1"])
    assert contains(organisation, "countries", ["fr", "FR", "Fr", "DE", None]) == [True, True, True, False, False]
    assert contains(organisation, "ips", ["2001:DB8:0:0::1", "10.0.0.1", "not an ip"]) == [True, True, False]


def test_an_entry_is_a_member_only_before_its_expiry(organisation):
    value_list = ValueListFactory(name="temporary", kind="account")
    soon = timezone.now() + timedelta(hours=1)
    ListEntryFactory(value_list=value_list, value="acct-1", expires_at=soon)
    ListEntryFactory(value_list=value_list, value="acct-2")
    assert contains(organisation, "temporary", ["acct-1", "acct-2"]) == [True, True]
    with time_machine.travel(soon + timedelta(seconds=1)):
        assert contains(organisation, "temporary", ["acct-1", "acct-2"]) == [False, True]


def test_an_entry_already_expired_when_loaded_is_no_member(organisation):
    value_list = ValueListFactory(name="old", kind="account")
    ListEntryFactory(value_list=value_list, value="acct-1", expires_at=timezone.now() - timedelta(seconds=1))
    assert contains(organisation, "old", ["acct-1"]) == [False]


def _next_check():
    """As if a second went by since the last check."""
    for slot in lookup._slots.values():
        slot.checked_at = 0.0


def test_a_change_made_in_another_process_is_seen_once_it_bumps_the_key(organisation):
    value_list = ValueListFactory(name="blocked", kind="account")
    assert contains(organisation, "blocked", ["acct-9"]) == [False]
    # Another process writes and bumps the revision: the row, then the Redis key, as its service does after commit.
    ListEntry.objects.create(value_list=value_list, value="acct-9")
    ValueList.objects.filter(pk=value_list.pk).update(revision=5)
    _next_check()
    assert contains(organisation, "blocked", ["acct-9"]) == [False]  # the key has not moved: the copy is kept
    cache.set(LISTS_REVISION_KEY.format(organisation_id=organisation.pk), 123, timeout=None)
    assert contains(organisation, "blocked", ["acct-9"]) == [False]  # checked at most once a second
    _next_check()
    assert contains(organisation, "blocked", ["acct-9"]) == [True]


def test_a_service_change_reaches_lookups_after_it_commits(organisation, django_capture_on_commit_callbacks):
    value_list = ValueListFactory(name="blocked", kind="account")
    assert contains(organisation, "blocked", ["acct-1"]) == [False]
    with django_capture_on_commit_callbacks(execute=True):
        services.list_entries_add(value_list=value_list, values=["acct-1"])
    assert contains(organisation, "blocked", ["acct-1"]) == [True]
    with django_capture_on_commit_callbacks(execute=True):
        services.value_list_delete(value_list=value_list)
    assert "blocked" not in list_memberships(organisation_id=organisation.pk)


def test_only_the_changed_list_is_read_again(organisation, django_capture_on_commit_callbacks):
    kept = ValueListFactory(name="kept", kind="account")
    changed = ValueListFactory(name="changed", kind="account")
    before = list_memberships(organisation_id=organisation.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.list_entries_add(value_list=changed, values=["acct-1"])
    after = list_memberships(organisation_id=organisation.pk)
    assert after["kept"] is before["kept"]
    assert after["changed"] is not before["changed"]
    assert kept.pk != changed.pk


def test_lookups_read_postgresql_while_redis_does_not_answer(organisation, settings):
    value_list = ValueListFactory(name="blocked", kind="account")
    assert contains(organisation, "blocked", ["acct-1"]) == [False]
    ListEntry.objects.create(value_list=value_list, value="acct-1")
    ValueList.objects.filter(pk=value_list.pk).update(revision=9)
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    _next_check()
    assert contains(organisation, "blocked", ["acct-1"]) == [True]
