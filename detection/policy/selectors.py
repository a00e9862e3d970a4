"""Reads of the risk policy: the thresholds in force (cached per process, read on every score) and their history."""

import threading
import time

from django.db.models import QuerySet

from detection.models import RiskPolicy

# The policy is read on every score, so each process keeps the newest row and re-reads it at most once per
# POLICY_TTL_SECONDS; a change made in this process (or a rolled-back test) drops the copy at once.
POLICY_TTL_SECONDS = 1.0
_policy_lock = threading.Lock()
_policy_cache: tuple[RiskPolicy, float] | None = None


def risk_policy_current() -> RiskPolicy:
    """The thresholds in force: the newest RiskPolicy row, created with the defaults when none exists."""
    global _policy_cache
    cached = _policy_cache
    now = time.monotonic()
    if cached is not None and now - cached[1] < POLICY_TTL_SECONDS:
        return cached[0]
    policy = RiskPolicy.objects.order_by("-created_at", "-id").first()
    if policy is None:
        policy = RiskPolicy.objects.create(comment="default")
    with _policy_lock:
        _policy_cache = (policy, now)
    return policy


def risk_policy_invalidate() -> None:
    """Forget this process's copy; other processes pick the change up within POLICY_TTL_SECONDS."""
    global _policy_cache
    with _policy_lock:
        _policy_cache = None


def risk_policy_history() -> QuerySet[RiskPolicy]:
    return RiskPolicy.objects.select_related("created_by").order_by("-created_at", "-id")
