"""Reads for alerts: the rules' screen of new scores, recent alerts for the bell, the audit trail."""

import threading
import time

import numpy as np
from django.db.models import QuerySet

from alerts.models import RISK_ORDER, Alert, AlertReadMark, AlertRule, AuditEvent

# Every scored transaction would otherwise cost a broker round trip even when no rule can match it,
# so each process keeps the enabled rules' score and risk conditions, re-read at most once per RULES_TTL_SECONDS and
# dropped at once when a rule is saved or deleted in this process. The screen only ever lets through more than the
# rules match: their other conditions (amount, merchant, rates, ...) are checked by the evaluation itself.
RULES_TTL_SECONDS = 1.0
_rules_lock = threading.Lock()
_rules_cache: tuple[list[tuple[float | None, int]], float] | None = None


def _rule_floors() -> list[tuple[float | None, int]]:
    """(min_score or None, index of min_risk_level or 0) of every enabled rule."""
    global _rules_cache
    cached = _rules_cache
    now = time.monotonic()
    if cached is not None and now - cached[1] < RULES_TTL_SECONDS:
        return cached[0]
    floors = [
        (min_score, RISK_ORDER.index(level) if level else 0)
        for min_score, level in AlertRule.objects.filter(enabled=True).values_list("min_score", "min_risk_level")
    ]
    with _rules_lock:
        _rules_cache = (floors, now)
    return floors


def alert_rules_may_match(scores) -> list:
    """The scores that some enabled rule's score and risk conditions let through (all rules: a superset)."""
    scores = list(scores)
    keep = alert_rules_screen([s.score for s in scores], [s.risk_level for s in scores])
    return [s for s, kept in zip(scores, keep, strict=True) if kept]


def alert_rules_screen(scores, risk_levels) -> np.ndarray:
    """alert_rules_may_match for parallel sequences of score values and risk levels: a boolean mask."""
    floors = _rule_floors()
    keep = np.zeros(len(scores), dtype=bool)
    if not floors or not len(scores):
        return keep
    values = np.asarray(scores, dtype=np.float64)
    levels = np.array([RISK_ORDER.index(level) for level in risk_levels])
    for min_score, level in floors:
        keep |= (levels >= level) & (values >= (-np.inf if min_score is None else min_score))
    return keep


def alert_rules_invalidate(**kwargs) -> None:
    """Forget this process's copy of the rules (a signal receiver too); others re-read within RULES_TTL_SECONDS."""
    global _rules_cache
    with _rules_lock:
        _rules_cache = None


def alerts_recent(*, limit: int = 10) -> list[Alert]:
    return list(Alert.objects.select_related("rule", "transaction", "score").order_by("-id")[:limit])


UNSEEN_CAP = 100  # the bell shows "99+"; counting further would scan every alert a new user never read


def alerts_unseen_count(*, user) -> int:
    mark = AlertReadMark.objects.filter(user=user).values_list("last_seen_alert_id", flat=True).first() or 0
    return Alert.objects.filter(id__gt=mark).order_by()[:UNSEEN_CAP].count()


def audit_events(*, action: str = "", since=None, until=None) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.select_related("actor").order_by("created_at", "id")
    if action:
        events = events.filter(action=action)
    if since is not None:
        events = events.filter(created_at__gte=since)
    if until is not None:
        events = events.filter(created_at__lt=until)
    return events
