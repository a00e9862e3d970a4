"""Writes of the risk policy: new thresholds as a new row, validated and audited."""

from django.db import transaction

from core.audit import audit_record, audit_snapshot
from detection.models import RiskPolicy
from detection.policy.selectors import risk_policy_invalidate

KEEP = object()  # risk_policy_create: the block threshold in force, unchanged
POLICY_FIELDS = ("medium", "high", "critical", "review_threshold", "block_threshold", "comment")


@transaction.atomic
def risk_policy_create(
    *,
    organisation_id: int,
    medium: float,
    high: float,
    critical: float,
    review_threshold: float,
    block_threshold: float | None | object = KEEP,
    comment: str = "",
    user=None,
) -> RiskPolicy:
    """An organisation's new thresholds as a new row (older rows stay as history), validated, audited, in force for
    its next score. Without `block_threshold` the one in force is kept, if it still lies above the review threshold
    (the threshold explorer sets the bands and the review threshold only)."""
    previous = RiskPolicy.objects.filter(organisation_id=organisation_id).order_by("-created_at", "-id").first()
    if block_threshold is KEEP:
        kept = previous.block_threshold if previous is not None else None
        block_threshold = kept if kept is not None and kept >= review_threshold else None
    policy = RiskPolicy(
        organisation_id=organisation_id,
        medium=medium,
        high=high,
        critical=critical,
        review_threshold=review_threshold,
        block_threshold=block_threshold,
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
