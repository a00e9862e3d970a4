"""Thresholds: the policy in force (detection.policy), admins-only changes through the page (served by alerts) and
the admin, history and audit."""

import pytest
from django.db import IntegrityError
from django.urls import reverse

from core.models import AuditEvent
from detection.models import RiskPolicy
from detection.policy.selectors import risk_policy_current
from detection.policy.services import risk_policy_create
from tests.factories import RiskPolicyFactory, UserFactory, default_organisation

pytestmark = pytest.mark.django_db

NEW_VALUES = {"medium": "0.5", "high": "0.7", "critical": "0.9", "review_threshold": "0.6", "comment": "tighter"}


def test_current_policy_is_created_with_defaults_when_none_exists(organisation):
    policy = risk_policy_current(organisation_id=organisation.pk)
    assert RiskPolicy.objects.count() == 1
    assert (policy.medium, policy.high, policy.critical, policy.review_threshold) == (0.80, 0.95, 0.99, 0.95)


def test_current_policy_is_the_newest_row_and_is_cached(organisation, django_assert_num_queries):
    RiskPolicyFactory(review_threshold=0.9)
    newest = RiskPolicyFactory(review_threshold=0.7)

    assert risk_policy_current(organisation_id=organisation.pk).pk == newest.pk
    with django_assert_num_queries(0):
        assert risk_policy_current(organisation_id=organisation.pk).pk == newest.pk


def test_new_thresholds_are_in_force_for_the_next_score_without_restart(organisation, admin_user):
    risk_policy_current(organisation_id=organisation.pk)
    risk_policy_create(
        organisation_id=organisation.pk, medium=0.5, high=0.7, critical=0.9, review_threshold=0.6, user=admin_user
    )
    # on_commit does not run inside the test's transaction; the post_save hook already dropped the copy.
    policy = risk_policy_current(organisation_id=organisation.pk)
    assert (policy.review_threshold, policy.is_flagged(0.65), policy.risk_level(0.75)) == (0.6, True, "high")


def test_unordered_bands_are_refused_by_the_database():
    with pytest.raises(IntegrityError):
        RiskPolicy.objects.create(
            organisation=default_organisation(), medium=0.9, high=0.5, critical=0.99, review_threshold=0.9
        )


def test_admin_sets_thresholds_on_the_page_as_a_new_row_with_one_audit_row(client, admin_user):
    old = RiskPolicyFactory()
    client.force_login(admin_user)

    response = client.post(reverse("alerts:thresholds"), NEW_VALUES)

    assert response.status_code == 302
    assert RiskPolicy.objects.count() == 2
    assert RiskPolicy.objects.get(pk=old.pk).review_threshold == 0.95
    event = AuditEvent.objects.get(action="threshold.change")
    assert event.before["review_threshold"] == 0.95 and event.after["review_threshold"] == 0.6
    assert (event.actor, event.ip_address) == (admin_user, "127.0.0.1")


def test_thresholds_page_refuses_bands_out_of_order(client, admin_user):
    client.force_login(admin_user)

    response = client.post(reverse("alerts:thresholds"), {**NEW_VALUES, "high": "0.95", "critical": "0.9"})

    assert response.status_code == 400
    assert RiskPolicy.objects.count() == 1  # just the default
    assert not AuditEvent.objects.exists()


def test_analyst_sees_thresholds_page_without_the_form(analyst_client):
    response = analyst_client.get(reverse("alerts:thresholds"))
    assert response.status_code == 200
    assert b"Save thresholds" not in response.content


def test_analyst_cannot_change_thresholds_on_the_page(analyst_client):
    response = analyst_client.post(reverse("alerts:thresholds"), NEW_VALUES)
    assert response.status_code == 403
    assert not RiskPolicy.objects.filter(comment="tighter").exists()
    assert not AuditEvent.objects.exists()


def test_outsider_cannot_see_thresholds_page(client, outsider):
    client.force_login(outsider)
    assert client.get(reverse("alerts:thresholds")).status_code == 403


def test_admin_adds_thresholds_in_admin_as_a_new_row_with_one_audit_row(client, admin_user, organisation):
    old = RiskPolicyFactory()
    client.force_login(admin_user)

    response = client.post(reverse("admin:detection_riskpolicy_add"), {**NEW_VALUES, "organisation": organisation.pk})

    assert response.status_code == 302
    assert RiskPolicy.objects.order_by("-id").first().comment == "tighter"
    assert RiskPolicy.objects.get(pk=old.pk).medium == 0.80
    assert AuditEvent.objects.filter(action="threshold.change").count() == 1


def test_admin_add_form_refuses_unordered_bands(client, admin_user, organisation):
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:detection_riskpolicy_add"), {**NEW_VALUES, "medium": "0.8", "organisation": organisation.pk}
    )
    assert response.status_code == 200
    assert b"Bands must be ordered" in response.content
    assert not RiskPolicy.objects.filter(comment="tighter").exists()


def test_existing_thresholds_cannot_be_edited_in_admin(client, admin_user):
    policy = RiskPolicyFactory()
    client.force_login(admin_user)

    response = client.post(reverse("admin:detection_riskpolicy_change", args=[policy.pk]), NEW_VALUES)

    assert response.status_code == 403
    assert RiskPolicy.objects.get(pk=policy.pk).comment == ""


def test_non_admin_staff_cannot_add_thresholds_in_admin(client):
    staff = UserFactory(username="staffer", is_staff=True, roles=["analyst"])
    client.force_login(staff)

    response = client.post(reverse("admin:detection_riskpolicy_add"), NEW_VALUES)

    assert response.status_code == 403
    assert not RiskPolicy.objects.filter(comment="tighter").exists()


def test_analyst_is_sent_away_from_the_admin(analyst_client):
    response = analyst_client.post(reverse("admin:detection_riskpolicy_add"), NEW_VALUES)
    assert response.status_code == 302
    assert not RiskPolicy.objects.exists()
