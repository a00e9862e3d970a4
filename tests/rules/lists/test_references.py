"""The list entry's references, kept by statement-level triggers (core/parent_keys.py), hold like foreign keys."""

import pytest
from django.db import IntegrityError, transaction

from rules.lists import services
from rules.models import ListEntry, ValueList
from tests.factories import ListEntryFactory, UserFactory, ValueListFactory

pytestmark = pytest.mark.django_db


def test_an_entry_of_a_missing_list_is_refused():
    with pytest.raises(IntegrityError, match="rules_valuelist"), transaction.atomic():
        ListEntry.objects.create(value_list_id=987654321, value="x")


def test_an_entry_of_a_missing_author_is_refused_and_none_is_no_author():
    value_list = ValueListFactory()
    ListEntry.objects.create(value_list=value_list, value="anonymous", created_by=None)
    with pytest.raises(IntegrityError, match="auth_user"), transaction.atomic():
        ListEntry.objects.create(value_list=value_list, value="x", created_by_id=987654321)


def test_a_deleted_list_takes_its_entries_and_a_deleted_author_leaves_them_without_one():
    author = UserFactory(username="leaver")
    value_list = ValueListFactory(kind="account")
    services.list_entries_add(value_list=value_list, values=["a1", "a2"], user=author)
    author.delete()
    assert list(ListEntry.objects.values_list("created_by", flat=True)) == [None, None]
    ValueList.objects.filter(pk=value_list.pk).delete()
    assert not ListEntry.objects.exists()


def test_a_list_cannot_be_deleted_under_its_entries_behind_the_orms_back():
    entry = ListEntryFactory()
    with pytest.raises(IntegrityError, match="still referenced"), transaction.atomic():
        ValueList.objects.filter(pk=entry.value_list_id)._raw_delete(using="default")
