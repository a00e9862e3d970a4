import pytest
from django.urls import reverse

from core.models import AuditEvent
from rules.models import ListEntry, ValueList
from tests.factories import ListEntryFactory, ValueListFactory

pytestmark = pytest.mark.django_db


def test_a_staff_admin_sees_only_its_organisations_lists_and_entries(other_admin_client, other_organisation):
    ListEntryFactory(value_list=ValueListFactory(name="ours"), value="secret-value")
    ListEntryFactory(value_list=ValueListFactory(name="theirs_list", organisation=other_organisation), value="visible")
    lists = other_admin_client.get(reverse("admin:rules_valuelist_changelist"))
    entries = other_admin_client.get(reverse("admin:rules_listentry_changelist"))
    assert lists.status_code == entries.status_code == 200
    assert b"theirs_list" in lists.content and b"ours" not in lists.content
    assert b"visible" in entries.content and b"secret-value" not in entries.content


def test_an_entry_saved_in_admin_is_normalised_audited_and_bumps_the_revision(client, admin_user):
    value_list = ValueListFactory(name="countries", kind="country")
    client.force_login(admin_user)
    url = reverse("admin:rules_listentry_add")
    refused = client.post(url, {"value_list": value_list.pk, "value": "Narnia", "note": ""})
    assert refused.status_code == 200 and b"is not an ISO 3166-1" in refused.content
    response = client.post(url, {"value_list": value_list.pk, "value": "fr", "note": "admin"})
    assert response.status_code == 302
    assert ListEntry.objects.get().value == "FR"
    assert ValueList.objects.get(pk=value_list.pk).revision == 1
    assert AuditEvent.objects.get(action="list.entries_add").actor == admin_user
