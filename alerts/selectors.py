"""Reads for alerts: the rules' screen of new scores, recent alerts for the bell, the audit trail; each for one
organisation (the audit trail's platform-level events for superusers only)."""

import threading
import time
from dataclasses import dataclass

import numpy as np
from django.db.models import Q, QuerySet

from alerts.models import RISK_ORDER, Alert, AlertReadMark, AlertRule, AuditEvent

# Every scored transaction would otherwise cost a broker round trip even when no rule can match it,
# so each process keeps the enabled rules' score, risk, decision and matched-rule conditions by organisation, re-read
# (every organisation's, in two queries) at most once per RULES_TTL_SECONDS and dropped at once when a rule is saved
# or deleted in this process. The screen only ever lets through more than an organisation's rules match: their other
# conditions (amount, merchant, rates, ...) are checked by the evaluation itself.
RULES_TTL_SECONDS = 1.0
_rules_lock = threading.Lock()


@dataclass(frozen=True)
class Floor:
    """What an enabled alert rule asks of a score, as far as the screen looks."""

    min_score: float | None
    level: int  # index of min_risk_level in RISK_ORDER (0: any)
    decisions: frozenset[str]  # empty: any decision
    rule_ids: frozenset[int]  # empty: whether or not a rule matched


Floors = list[Floor]
_rules_cache: tuple[dict[int, Floors], float] | None = None


def _rule_floors(organisation_id: int) -> Floors:
    """The Floor of every enabled rule of the organisation."""
    global _rules_cache
    cached = _rules_cache
    now = time.monotonic()
    if cached is None or now - cached[1] >= RULES_TTL_SECONDS:
        by_organisation: dict[int, Floors] = {}
        enabled = AlertRule.objects.filter(enabled=True, kind=AlertRule.Kind.TRANSACTION)
        watched: dict[int, set[int]] = {}
        for alert_rule_id, rule_id in AlertRule.matched_rules.through.objects.filter(
            alertrule__enabled=True, alertrule__kind=AlertRule.Kind.TRANSACTION
        ).values_list("alertrule_id", "rule_id"):
            watched.setdefault(alert_rule_id, set()).add(rule_id)
        rules = enabled.values_list("id", "organisation_id", "min_score", "min_risk_level", "decisions")
        for pk, organisation, min_score, level, decisions in rules:
            floor = Floor(
                min_score=min_score,
                level=RISK_ORDER.index(level) if level else 0,
                decisions=frozenset(decisions),
                rule_ids=frozenset(watched.get(pk, ())),
            )
            by_organisation.setdefault(organisation, []).append(floor)
        cached = (by_organisation, now)
        with _rules_lock:
            _rules_cache = cached
    return cached[0].get(organisation_id, [])


def alert_rules_may_match(scores, *, organisation_id: int) -> list:
    """The scores that some enabled rule of the organisation lets through on score and risk (a superset)."""
    scores = list(scores)
    keep = alert_rules_screen(
        [s.score for s in scores], [s.risk_level for s in scores], organisation_id=organisation_id
    )
    return [s for s, kept in zip(scores, keep, strict=True) if kept]


def alert_rules_screen(scores, risk_levels, *, organisation_id: int, decisions=None, rules=None) -> np.ndarray:
    """alert_rules_may_match for parallel sequences of score values and risk levels (and, when given, decisions and
    each score's stored rules): a boolean mask."""
    floors = _rule_floors(organisation_id)
    keep = np.zeros(len(scores), dtype=bool)
    if not floors or not len(scores):
        return keep
    values = np.asarray(scores, dtype=np.float64)
    levels = np.array([RISK_ORDER.index(level) for level in risk_levels])
    for floor in floors:
        passed = (levels >= floor.level) & (values >= (-np.inf if floor.min_score is None else floor.min_score))
        if floor.decisions and decisions:
            passed &= np.array([decision in floor.decisions for decision in decisions], dtype=bool)
        if floor.rule_ids and rules is not None:
            passed &= np.array([_matched_any(matched, floor.rule_ids) for matched in rules], dtype=bool)
        keep |= passed
    return keep


def _matched_any(stored_rules, rule_ids: frozenset[int]) -> bool:
    return any(rule["id"] in rule_ids and not rule.get("missing") for rule in stored_rules)


def alert_rules_invalidate(**kwargs) -> None:
    """Forget this process's copy of the rules (a signal receiver too); others re-read within RULES_TTL_SECONDS."""
    global _rules_cache
    with _rules_lock:
        _rules_cache = None


def alerts_of(*, organisation_id: int | None) -> QuerySet[Alert]:
    """The organisation's alerts (those of its rules), none without an organisation."""
    if organisation_id is None:
        return Alert.objects.none()
    return Alert.objects.filter(rule__organisation_id=organisation_id)


def alerts_recent(*, organisation_id: int | None, limit: int = 10) -> list[Alert]:
    alerts = alerts_of(organisation_id=organisation_id).select_related("rule", "transaction", "score")
    return list(alerts.order_by("-id")[:limit])


UNSEEN_CAP = 100  # the bell shows "99+"; counting further would scan every alert a new user never read


def alerts_unseen_count(*, user, organisation_id: int | None) -> int:
    marks = AlertReadMark.objects.filter(user=user, organisation_id=organisation_id)
    mark = marks.values_list("last_seen_alert_id", flat=True).first() or 0
    return alerts_of(organisation_id=organisation_id).filter(id__gt=mark).order_by()[:UNSEEN_CAP].count()


def audit_events(
    *, organisation_id: int | None, platform: bool = False, action: str = "", since=None, until=None
) -> QuerySet[AuditEvent]:
    """The organisation's audit events, oldest first; with `platform`, also the platform's own (no organisation),
    which only superusers may see."""
    in_scope = Q(organisation_id=organisation_id) if organisation_id is not None else Q(pk__in=[])
    if platform:
        in_scope |= Q(organisation__isnull=True)
    events = AuditEvent.objects.filter(in_scope).select_related("actor").order_by("created_at", "id")
    if action:
        events = events.filter(action=action)
    if since is not None:
        events = events.filter(created_at__gte=since)
    if until is not None:
        events = events.filter(created_at__lt=until)
    return events
