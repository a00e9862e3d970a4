"""Staff who are not superusers administer their own organisations only: they see and manage their organisations'
members, never another organisation, never make anyone a superuser, and never change a superuser."""

import pytest
from django.urls import reverse

from accounts.models import Organisation
from accounts.services import ADMIN
from core.models import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_admin(organisation):
    return UserFactory(username="sam", roles=[ADMIN], is_staff=True)


@pytest.fixture
def staff_client(client, staff_admin):
    client.force_login(staff_admin)
    return client


def test_staff_see_only_their_organisations(staff_client, organisation, other_organisation):
    page = staff_client.get(reverse("admin:accounts_organisation_changelist"))

    assert page.status_code == 200
    assert list(page.context["cl"].queryset) == [organisation]
    other = reverse("admin:accounts_organisation_change", args=[other_organisation.pk])
    assert staff_client.get(other).status_code == 302  # the admin's answer to an object one may not see


def test_staff_see_only_the_people_of_their_organisations(staff_client, analyst, other_analyst, admin_user):
    page = staff_client.get(reverse("admin:auth_user_changelist"))

    assert analyst in page.context["cl"].queryset
    assert other_analyst not in page.context["cl"].queryset
    assert admin_user not in page.context["cl"].queryset  # superusers are the platform's, not an organisation's


def test_staff_cannot_add_another_organisations_person_as_a_member(staff_client, organisation, other_analyst):
    url = reverse("admin:accounts_organisation_change", args=[organisation.pk])
    form = {
        "name": organisation.name,
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-user": str(other_analyst.pk),
        "memberships-0-organisation": str(organisation.pk),
    }

    response = staff_client.post(url, form)

    assert response.status_code == 200  # the form again, with the error
    assert not other_analyst.memberships.filter(organisation=organisation).exists()


def test_only_superusers_change_the_roles(staff_client):
    from django.contrib.auth.models import Group

    role = Group.objects.get(name="viewer")
    page = staff_client.get(reverse("admin:auth_group_change", args=[role.pk]))

    assert page.status_code == 200 and page.context["has_change_permission"] is False


def test_staff_cannot_make_anyone_a_superuser(staff_client, staff_admin, analyst):
    url = reverse("admin:auth_user_change", args=[analyst.pk])
    form = staff_client.get(url).context["adminform"].form

    assert "is_superuser" not in form.fields and "user_permissions" not in form.fields


def test_staff_cannot_change_a_superuser(staff_client, admin_user, organisation):
    url = reverse("admin:auth_user_change", args=[admin_user.pk])

    assert staff_client.get(url).status_code == 302  # not among the people they administer
    staff_client.post(url, {"username": "taken-over", "is_superuser": "on"})
    admin_user.refresh_from_db()
    assert admin_user.username == "root"


def test_only_superusers_create_organisations_and_the_admin_records_it(client, staff_client, admin_user):
    assert staff_client.get(reverse("admin:accounts_organisation_add")).status_code == 403

    client.force_login(admin_user)
    response = client.post(
        reverse("admin:accounts_organisation_add"),
        {
            "name": "acme",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
        },
    )

    assert response.status_code == 302
    acme = Organisation.objects.get(name="acme")
    assert AuditEvent.objects.get(action="organisation.create").organisation_id == acme.pk
