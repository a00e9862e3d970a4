"""The risk policy's optional block threshold: the model alone blocks scores at or above it."""

import pytest
from django.urls import reverse

from core.models import AuditEvent
from detection.models import RiskPolicy
from detection.policy.services import risk_policy_create
from tests.factories import RiskPolicyFactory

pytestmark = pytest.mark.django_db

NEW_VALUES = {"medium": "0.5", "high": "0.7", "critical": "0.9", "review_threshold": "0.6", "comment": "blocking"}


@pytest.mark.parametrize(
    ("score", "decision"), [(0.5, "allow"), (0.6, "review"), (0.89, "review"), (0.9, "block"), (1.0, "block")]
)
def test_the_models_decision_by_threshold(score, decision):
    assert RiskPolicy(review_threshold=0.6, block_threshold=0.9).model_decision(score) == decision


def test_without_a_block_threshold_the_model_never_blocks():
    assert RiskPolicy(review_threshold=0.6).model_decision(1.0) == "review"


def test_admin_sets_a_block_threshold_on_the_thresholds_page(client, admin_user):
    client.force_login(admin_user)

    response = client.post(reverse("alerts:thresholds"), {**NEW_VALUES, "block_threshold": "0.97"})

    assert response.status_code == 302
    assert RiskPolicy.objects.order_by("-id").first().block_threshold == 0.97
    assert AuditEvent.objects.get(action="threshold.change").after["block_threshold"] == 0.97
    assert b"0.97" in client.get(reverse("alerts:thresholds")).content


def test_a_block_threshold_below_the_review_threshold_is_refused_naming_it(client, admin_user):
    client.force_login(admin_user)

    response = client.post(reverse("alerts:thresholds"), {**NEW_VALUES, "block_threshold": "0.3"})

    assert response.status_code == 400
    assert "block_threshold" in response.context["form"].errors
    assert not RiskPolicy.objects.filter(comment="blocking").exists()


def test_new_thresholds_without_a_block_threshold_keep_the_one_in_force(organisation):
    RiskPolicyFactory(review_threshold=0.9, block_threshold=0.98)

    kept = risk_policy_create(organisation_id=organisation.pk, medium=0.5, high=0.7, critical=0.9, review_threshold=0.8)
    dropped = risk_policy_create(
        organisation_id=organisation.pk, medium=0.5, high=0.7, critical=0.99, review_threshold=0.99
    )

    assert (kept.block_threshold, dropped.block_threshold) == (0.98, None)
