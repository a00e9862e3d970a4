"""One typed transaction scored as the scoring path would score it were it stored, and nothing stored.

The features read the account's and the merchant's stored history (detection.scoring.adapters.frame_with_unsaved,
the same windows and query as a stored transaction's); the model is the organisation's active version (and,
optionally, one other trained version); the decision is the one the rules in force would give
(detection.scoring.deciding: the rules app's registered decider), from the organisation's thresholds.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np

from detection.engine.detector import Detector
from detection.engine.frame import Frame
from detection.models import ModelVersion, RiskPolicy, Score
from detection.policy.selectors import risk_policy_or_default
from detection.scoring import adapters, registry
from detection.scoring.deciding import ScoredBatch, scores_decide

# The components in the order the page lists them, with the words it uses for them.
COMPONENT_NAMES = {
    "supervised": "Supervised model (learnt from labels)",
    "unsupervised": "Unsupervised ensemble",
    "isolation_forest": "Isolation forest",
    "autoencoder": "Autoencoder",
    "tail": "Tail model (rarest feature)",
}


@dataclass(frozen=True)
class TrialInput:
    account_id: str
    amount: Decimal
    timestamp: datetime
    merchant_id: str = ""
    merchant_category: str = ""
    channel: str = "other"
    country: str = ""
    latitude: float | None = None
    longitude: float | None = None
    location_distance_km: float | None = None
    billing_latitude: float | None = None
    billing_longitude: float | None = None
    billing_postal_code: str = ""
    billing_country: str = ""
    shipping_latitude: float | None = None
    shipping_longitude: float | None = None
    shipping_postal_code: str = ""
    shipping_country: str = ""
    ip_country: str = ""


@dataclass
class TrialResult:
    """What one version says of the trial: an unsaved Score (its reasons, decision and rules as stored scores
    give them) and the version."""

    version: ModelVersion
    score: Score
    history_rows: int  # stored rows the features read (the account's and the merchant's)
    policy: RiskPolicy
    gauge: str = ""  # the page's drawing of the score

    @property
    def components(self) -> list[tuple[str, float]]:
        parts = self.score.components
        return [(words, parts[name]) for name, words in COMPONENT_NAMES.items() if name in parts]


def trial_score(*, organisation_id: int, trial: TrialInput, versions: list[ModelVersion]) -> list[TrialResult]:
    """The trial scored by each version (the first is usually the active one), in the order given. Raises
    ValueError when a version cannot be loaded."""
    columns, targets = adapters.frame_with_unsaved(trial.__dict__, organisation_id=organisation_id)
    frame = Frame.of(columns)
    policy = risk_policy_or_default(organisation_id=organisation_id)
    return [
        _scored(version, _detector(version, organisation_id), frame, columns, targets, policy) for version in versions
    ]


def _detector(version: ModelVersion, organisation_id: int) -> Detector:
    if version.status == ModelVersion.Status.ACTIVE:
        loaded = registry.active_model(organisation_id=organisation_id)
        if loaded.version.pk == version.pk:
            return loaded.detector
    return registry.version_detector(version)


def _scored(version, detector, frame, columns, targets, policy) -> TrialResult:
    output = detector.score_frame(frame, targets)
    value = round(float(output.score[0]), 6)
    level = policy.risk_level(value)
    decided = scores_decide(
        ScoredBatch(
            organisation_id=policy.organisation_id,
            frame=frame,
            columns=columns,
            output=output,
            scores=np.asarray([value], dtype=np.float64),
            risk_levels=[level],
            model_decisions=[policy.model_decision(value)],
        )
    )
    score = Score(
        model_version=version,
        score=value,
        risk_level=level,
        is_anomaly=decided.flagged[0],
        components={name: round(float(values[0]), 6) for name, values in output.components.items()},
        reasons=list(output.reasons[0]),
        decision=str(decided.decisions[0]),
        rules=decided.rules[0],
    )
    return TrialResult(version=version, score=score, history_rows=int(len(frame) - 1), policy=policy)
