"""Reads of the risk policy: an organisation's thresholds in force (cached per process, read on every score) and
their history."""

import threading
import time

from django.db.models import QuerySet

from detection.models import RiskPolicy

# The policy is read on every score, so each process keeps each organisation's newest row and re-reads it at most
# once per POLICY_TTL_SECONDS; a change made in this process (or a rolled-back test) drops the copies at once.
POLICY_TTL_SECONDS = 1.0
_policy_lock = threading.Lock()
_policy_cache: dict[int, tuple[RiskPolicy, float]] = {}


def risk_policy_current(*, organisation_id: int) -> RiskPolicy:
    """The organisation's thresholds in force: its newest RiskPolicy row, created with the defaults when none
    exists."""
    cached = _policy_cache.get(organisation_id)
    now = time.monotonic()
    if cached is not None and now - cached[1] < POLICY_TTL_SECONDS:
        return cached[0]
    policy = RiskPolicy.objects.filter(organisation_id=organisation_id).order_by("-created_at", "-id").first()
    if policy is None:
        policy = RiskPolicy.objects.create(organisation_id=organisation_id, comment="default")
    with _policy_lock:
        _policy_cache[organisation_id] = (policy, now)
    return policy


def risk_policy_invalidate() -> None:
    """Forget this process's copies; other processes pick a change up within POLICY_TTL_SECONDS."""
    with _policy_lock:
        _policy_cache.clear()


def risk_policy_history(*, organisation_id: int) -> QuerySet[RiskPolicy]:
    rows = RiskPolicy.objects.filter(organisation_id=organisation_id).select_related("created_by")
    return rows.order_by("-created_at", "-id")


def risk_policy_or_default(*, organisation_id: int) -> RiskPolicy:
    """The organisation's newest thresholds, read now, or the defaults unsaved when it has none: for pages that store
    nothing (the try page, a comparison), where risk_policy_current would create the row."""
    policy = RiskPolicy.objects.filter(organisation_id=organisation_id).order_by("-created_at", "-id").first()
    return policy or RiskPolicy(organisation_id=organisation_id)
