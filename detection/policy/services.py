"""Writes of the risk policy: new thresholds as a new row, validated and audited."""

from django.db import transaction

from core.audit import audit_record, audit_snapshot
from detection.models import RiskPolicy
from detection.policy.selectors import risk_policy_invalidate

POLICY_FIELDS = ("medium", "high", "critical", "review_threshold", "comment")


@transaction.atomic
def risk_policy_create(
    *,
    organisation_id: int,
    medium: float,
    high: float,
    critical: float,
    review_threshold: float,
    comment: str = "",
    user=None,
) -> RiskPolicy:
    """An organisation's new thresholds as a new row (older rows stay as history), validated, audited, in force for
    its next score."""
    previous = RiskPolicy.objects.filter(organisation_id=organisation_id).order_by("-created_at", "-id").first()
    policy = RiskPolicy(
        organisation_id=organisation_id,
        medium=medium,
        high=high,
        critical=critical,
        review_threshold=review_threshold,
        comment=comment,
        created_by=user,
    )
    policy.full_clean()
    policy.save()
    audit_record(
        action="threshold.change",
        obj=policy,
        before=audit_snapshot(previous, exclude=("id", "organisation")) if previous else None,
        after=_policy_values(policy),
        actor=user,
    )
    transaction.on_commit(risk_policy_invalidate)
    return policy


def _policy_values(policy: RiskPolicy) -> dict:
    return {field: getattr(policy, field) for field in POLICY_FIELDS}
