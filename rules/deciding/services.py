"""Deciding a scored batch: every rule in force run over the batch's columns at once, then the precedence.

allow > block > review; with none of them matched the model's thresholds decide. A tag rule never decides: it adds
its tag. A row lacking a value a rule reads does not match that rule; the score records it (the rule's entry with
`"missing": true`) so the rule's page counts it, and the request goes on.
"""

import logging

import numpy as np

from core.logging import warn_now_and_then
from detection.scoring.adapters import stored_fields
from detection.scoring.deciding import NO_RULES, Decisions, ScoredBatch
from rules.deciding.ruleset import CompiledRule, active_rule_set
from rules.fields import STORED_FIELDS, rule_columns, stored_rows
from rules.language import Batch
from rules.lists.lookup import list_memberships
from rules.models import Action

logger = logging.getLogger(__name__)

# Strongest last: each overrides what the weaker ones decided.
PRECEDENCE = (Action.REVIEW, Action.BLOCK, Action.ALLOW)


def decide_batch(batch: ScoredBatch) -> Decisions:
    """Per scored row: the decision, the matched rules (then those it lacked a value for) and, through them, the
    tags. The model's decisions when the organisation has no rule in force."""
    rule_set = active_rule_set(organisation_id=batch.organisation_id)
    if not rule_set:
        return Decisions.of_model(batch.model_decisions)
    size = len(batch)
    columns = rule_columns(
        rule_set.fields,
        frame=batch.columns,
        rows=batch.rows,
        output=batch.output,
        risk_levels=batch.risk_levels,
        stored=_stored(batch, rule_set.fields),
        data=batch.frame,
    )
    memberships = list_memberships(organisation_id=batch.organisation_id) if rule_set.lists else {}
    shared = Batch(columns, memberships, size=size)
    decided = {action: np.zeros(size, dtype=bool) for action in PRECEDENCE}
    per_row: list[list[dict]] = [NO_RULES] * size
    for rule in rule_set.rules:
        outcome = _rule_run(rule, shared, memberships)
        if outcome is None:
            continue
        matched, missing = outcome
        if rule.action in decided:
            decided[rule.action] |= matched
        _entries_add(per_row, np.flatnonzero(matched), rule.entry)
        _entries_add(per_row, np.flatnonzero(missing & ~matched), rule.missing_entry)
    decisions = np.array(batch.model_decisions, dtype=object)
    for action in PRECEDENCE:
        decisions[decided[action]] = action.value
    return Decisions(decisions=decisions.tolist(), rules=per_row)


def _stored(batch: ScoredBatch, names) -> dict[str, np.ndarray]:
    """The stored fields the frame does not carry (device, currency) of the rows the rules read them for, one value
    per frame row: one query, and none when no rule in force reads them."""
    positions = stored_rows(names, frame=batch.frame, rows=batch.rows)
    if positions is None:
        return {}
    found = stored_fields(organisation_id=batch.organisation_id, row_ids=batch.frame.row_id[positions])
    columns = {name: np.full(len(batch.frame), "", dtype=object) for name in STORED_FIELDS}
    for name in STORED_FIELDS:
        columns[name][positions] = found[name]
    return columns


def _rule_run(rule: CompiledRule, shared: Batch, memberships) -> tuple[np.ndarray, np.ndarray] | None:
    """(matched, missing) of one rule; None when it cannot run (logged): a list it reads is gone, or it failed."""
    if not rule.expression.lists <= memberships.keys():
        warn_now_and_then(logger, f"rule-lists-{rule.version_id}", "rule %s reads a list that is gone", rule.name)
        return None
    try:
        result = rule.expression.evaluate(shared)
    except Exception:  # a rule's failure must not fail the scoring: it does not match, and the log says why
        logger.exception("rule %s v%s failed on a batch and did not match", rule.name, rule.version)
        return None
    return result.matched, result.missing


def _entries_add(per_row: list[list[dict]], rows: np.ndarray, entry: dict) -> None:
    for row in rows.tolist():
        if per_row[row] is NO_RULES:
            per_row[row] = [entry]
        else:
            per_row[row].append(entry)
