"""Each organisation's rules in force, compiled once per process and compiled again when they change.

Which rules are in force is checked at most once a second per organisation: one Redis GET of the organisation's
rule revision (`rules.policy.revision`, set after every publish and disable commits). When it moved, or while Redis
does not answer, PostgreSQL gives the active versions, and the set is compiled again only if they differ from
those compiled: as detection/scoring/registry.py does for models.
"""

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.logging import warn_now_and_then
from rules.fields import rule_schema
from rules.language import CompiledExpression, ExpressionError, compile_expression
from rules.lists.selectors import list_kinds
from rules.policy.revision import rules_revision
from rules.policy.selectors import active_rule_versions

logger = logging.getLogger(__name__)

CHECK_INTERVAL_SECONDS = 1.0


@dataclass(frozen=True)
class CompiledRule:
    """One active rule version, ready to run on a batch; `entry` is what a score stores of it when it matches."""

    rule_id: int
    name: str
    version_id: int
    version: int
    action: str
    tag: str
    expression: CompiledExpression
    entry: dict[str, Any]
    missing_entry: dict[str, Any]  # what a score stores when a row lacked a value the rule reads


@dataclass(frozen=True)
class RuleSet:
    """An organisation's compiled rules (by rule name) and the union of what they read."""

    rules: tuple[CompiledRule, ...] = ()
    fields: frozenset[str] = frozenset()
    lists: frozenset[str] = frozenset()
    by_action: dict[str, np.ndarray] = field(default_factory=dict)  # action → positions of its rules in `rules`

    @property
    def version_ids(self) -> frozenset[int]:
        return frozenset(rule.version_id for rule in self.rules)

    def __len__(self) -> int:
        return len(self.rules)


EMPTY = RuleSet()


@dataclass
class _Slot:
    rule_set: RuleSet = EMPTY
    seen: int | None = -1  # the Redis revision the set was checked against; -1: never loaded
    checked_at: float = 0.0
    version_ids: frozenset[int] = frozenset()  # the active versions compiled (refused ones included)


_lock = threading.Lock()
_slots: dict[int, _Slot] = {}


def active_rule_set(*, organisation_id: int) -> RuleSet:
    """The organisation's compiled rules in force, as this process holds them (refreshed as the module says)."""
    slot = _slots.get(organisation_id) or _slots.setdefault(organisation_id, _Slot())
    if time.monotonic() - slot.checked_at < CHECK_INTERVAL_SECONDS:
        return slot.rule_set
    with _lock:
        if time.monotonic() - slot.checked_at >= CHECK_INTERVAL_SECONDS:
            seen = rules_revision(organisation_id=organisation_id)
            if seen is None:
                warn_now_and_then(logger, "rules-revision", "the rules in force are read from PostgreSQL")
            if seen is None or seen != slot.seen:
                _refresh(slot, organisation_id)
                slot.seen = seen
            slot.checked_at = time.monotonic()
        return slot.rule_set


def _refresh(slot: _Slot, organisation_id: int) -> None:
    versions = list(active_rule_versions(organisation_id=organisation_id))
    if frozenset(v.pk for v in versions) == slot.version_ids and slot.seen != -1:
        return
    slot.rule_set = rule_set_compile(versions, organisation_id=organisation_id)
    slot.version_ids = frozenset(v.pk for v in versions)


def rule_set_compile(versions, *, organisation_id: int) -> RuleSet:
    """Compile rule versions against the catalogue and the organisation's lists. A version saved valid that no
    longer compiles (a list it reads was deleted since) is left out and logged, never failing the scoring."""
    if not versions:
        return EMPTY
    schema = rule_schema(list_kinds(organisation_id=organisation_id))
    compiled = []
    for version in versions:
        try:
            expression = compile_expression(version.expression, schema)
        except ExpressionError as exc:
            logger.error("rule %s v%s no longer compiles and is not run: %s", version.rule.name, version.version, exc)
            continue
        entry = {"id": version.rule_id, "name": version.rule.name, "version": version.version, "action": version.action}
        if version.action == "tag":
            entry["tag"] = version.tag or version.rule.name
        compiled.append(
            CompiledRule(
                rule_id=version.rule_id,
                name=version.rule.name,
                version_id=version.pk,
                version=version.version,
                action=version.action,
                tag=version.tag,
                expression=expression,
                entry=entry,
                missing_entry={**entry, "missing": True},
            )
        )
    actions = np.array([rule.action for rule in compiled], dtype=object)
    return RuleSet(
        rules=tuple(compiled),
        fields=frozenset().union(*(rule.expression.fields for rule in compiled)),
        lists=frozenset().union(*(rule.expression.lists for rule in compiled)),
        by_action={action: np.flatnonzero(actions == action) for action in set(actions.tolist())},
    )


def rule_sets_forget() -> None:
    """Drop every organisation's compiled rules in this process (tests: rows rolled back under a cached copy)."""
    with _lock:
        _slots.clear()
