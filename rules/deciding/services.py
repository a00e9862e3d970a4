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
from rules.language import Batch, Row, batch_of
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
    shared = batch_of(columns, memberships, size=size)
    if isinstance(shared, Row):
        return _decide_row(rule_set.rules, shared, memberships, batch.model_decisions[0])
    # One row per rule: where it matched, and where it lacked a value.
    matched = np.zeros((len(rule_set.rules), size), dtype=bool)
    missing = np.zeros((len(rule_set.rules), size), dtype=bool)
    for k, rule in enumerate(rule_set.rules):
        ran = _rule_run(rule, shared, memberships)
        if ran is not None:
            matched[k], missing[k] = ran
    decisions = batch.model_decisions
    if not (matched.any() or missing.any()):
        return Decisions(decisions=decisions, rules=[NO_RULES] * size)
    # 1 where a rule matched, 2 where it lacked a value (and so did not match), 0 elsewhere.
    outcome = matched.view(np.int8) + 2 * (missing & ~matched).view(np.int8)
    decisions = np.array(decisions, dtype=object)
    for action in PRECEDENCE:
        deciding = rule_set.by_action.get(action)
        if deciding is not None:
            decisions[(outcome[deciding] == 1).any(axis=0)] = action.value
    return Decisions(decisions=decisions.tolist(), rules=_entries(rule_set.rules, outcome, size))


def _decide_row(rules, row: Row, memberships, model_decision: str) -> Decisions:
    """One row (a single score) decided on plain Python values, as decide_batch decides each row of a batch."""
    entries, actions = [], set()
    for rule in rules:
        ran = _rule_run(rule, row, memberships)
        if ran is None:
            continue
        if ran[0]:
            entries.append(rule.entry)
            actions.add(rule.action)
        elif ran[1]:
            entries.append(rule.missing_entry)
    decision = next((action.value for action in reversed(PRECEDENCE) if action in actions), model_decision)
    return Decisions(decisions=[decision], rules=[entries or NO_RULES])


def _entries(rules, outcome: np.ndarray, size: int) -> list[list[dict]]:
    """Each row's entries in the rules' order: a matched rule's entry, or its missing entry."""
    per_row: list[list[dict]] = [NO_RULES] * size
    rows, which = np.nonzero(outcome.T)  # row by row, rules in order
    for row, k, code in zip(rows.tolist(), which.tolist(), outcome.T[rows, which].tolist(), strict=True):
        entry = rules[k].entry if code == 1 else rules[k].missing_entry
        if per_row[row] is NO_RULES:
            per_row[row] = [entry]
        else:
            per_row[row].append(entry)
    return per_row


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


def _rule_run(rule: CompiledRule, shared: Batch, memberships):
    """(matched, missing) of one rule, each a bool array or a scalar for the whole batch; None when it cannot run
    (logged): a list it reads is gone, or it failed."""
    if rule.expression.lists and not rule.expression.lists <= memberships.keys():
        warn_now_and_then(logger, f"rule-lists-{rule.version_id}", "rule %s reads a list that is gone", rule.name)
        return None
    try:
        values, missing = rule.expression.run(shared)
    except Exception:  # a rule's failure must not fail the scoring: it does not match, and the log says why
        logger.exception("rule %s v%s failed on a batch and did not match", rule.name, rule.version)
        return None
    return (False if values is None else values), (False if missing is None else missing)
