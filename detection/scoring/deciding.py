"""The decision beside each score (allow, review or block), made after the detector scored and before the INSERT.

Rules live in an app above detection, which may not be imported here: the rules app registers its decider when
Django starts (`AppConfig.ready`). With no decider, or when it finds no rule in force, the model's thresholds
decide (`RiskPolicy.model_decision`).
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from detection.engine.detector import ScoreOutput
from detection.engine.frame import Frame
from detection.models import Decision, rule_tags

RULE_ACTIONS = ("allow", "block", "review", "tag")  # rules.models.Action's values, which detection may not import
FLAGGING = frozenset({Decision.REVIEW.value, Decision.BLOCK.value})  # decisions that queue a score for review
NO_RULES: list[dict] = []  # shared by every row no rule matched (never mutated)


@dataclass(frozen=True)
class ScoredBatch:
    """What a decider sees of one organisation's scored rows, in frame order."""

    organisation_id: int
    frame: Frame  # the frame scored: the targets and their history
    columns: Mapping[str, np.ndarray]  # the same frame's raw columns (`attr_<key>`: the partner's values as sent)
    output: ScoreOutput  # the detector's output (`.features`: the scored rows' features)
    scores: np.ndarray  # float64, as stored (rounded)
    risk_levels: Sequence[str]
    model_decisions: list[str]  # RiskPolicy.model_decision of each score

    @property
    def rows(self) -> np.ndarray:
        """Positions of the scored rows in the frame."""
        return self.output.rows

    def __len__(self) -> int:
        return len(self.scores)


@dataclass(frozen=True)
class Decisions:
    """Per scored row: the decision, the matched rules ({"id", "name", "version", "action"}, and "tag" for tag rules)
    and the tags."""

    decisions: list[str]
    rules: list[list[dict[str, Any]]]

    @classmethod
    def of_model(cls, model_decisions: list[str]) -> "Decisions":
        return cls(decisions=model_decisions, rules=[NO_RULES] * len(model_decisions))

    @property
    def tags(self) -> list[list[str]]:
        return [tags_of(rules) if rules else [] for rules in self.rules]

    @property
    def flagged(self) -> list[bool]:
        """A score decided review or block enters review; allow never does (an allow rule is an exception)."""
        return [decision in FLAGGING for decision in self.decisions]


Decider = Callable[[ScoredBatch], Decisions]
_deciders: list[Decider] = []


def decider_register(decider: Decider) -> None:
    """Make `decider` decide every scored batch from now on (the last registered wins; the same one twice is one)."""
    if decider in _deciders:
        _deciders.remove(decider)
    _deciders.append(decider)


def decider_unregister(decider: Decider) -> None:
    if decider in _deciders:
        _deciders.remove(decider)


def scores_decide(batch: ScoredBatch) -> Decisions:
    """The registered decider's decisions, or the model's when none is registered."""
    if not _deciders or not len(batch):
        return Decisions.of_model(batch.model_decisions)
    return _deciders[-1](batch)


tags_of = rule_tags
