"""The performance page's champion and challenger section: both versions on the same live transactions and labels.

The challenger's shadow scores (detection.scoring.shadow) paired with the active version's scores of the same
transactions: ROC and precision–recall curves over the labelled ones (as the page draws them for one version),
precision of each version's flags at the review threshold in force, the transactions they disagree on (flagged by
one and not the other, the widest gaps first) and the newest pairs scored, live.
"""

from dataclasses import dataclass, field

import numpy as np
from django.conf import settings

from detection.charts import Series, line_chart
from detection.models import ModelVersion, RiskPolicy
from detection.performance import selectors
from detection.performance.metrics import Confusion, both_classes, confusion, curves

DISAGREEMENTS_SHOWN = 50
LATEST_SHOWN = 10


@dataclass
class Side:
    """One version's figures over the pairs."""

    name: str
    flagged: int
    confusion: Confusion
    roc_auc: float | None = None
    average_precision: float | None = None


@dataclass
class ShadowSection:
    challenger: ModelVersion
    champions: list[int]
    threshold: float
    scored: int = 0
    labelled: int = 0
    fraud: int = 0
    enough_labels: bool = False
    min_labels: int = 0
    sides: list[Side] = field(default_factory=list)  # champion, then challenger
    only_champion: int = 0
    only_challenger: int = 0
    disagreements: list[dict] = field(default_factory=list)
    latest: list[dict] = field(default_factory=list)
    roc_svg: str = ""
    pr_svg: str = ""


def shadow_section(*, challenger: ModelVersion, policy: RiskPolicy) -> ShadowSection:
    pairs = selectors.shadow_pairs(challenger=challenger)
    section = ShadowSection(
        challenger=challenger,
        champions=pairs.champion_versions,
        threshold=policy.review_threshold,
        scored=pairs.count,
        min_labels=settings.PERFORMANCE_MIN_LABELS,
    )
    if not pairs.count:
        return section
    champion_name = "champion " + ", ".join(f"v{n}" for n in pairs.champion_versions)
    names = (champion_name, f"challenger v{challenger.version}")
    known = ~np.isnan(pairs.labels)
    y = pairs.labels[known].astype(int)
    section.labelled, section.fraud = int(known.sum()), int(y.sum())
    section.enough_labels = section.labelled >= section.min_labels and both_classes(y)
    found = []
    for name, scores in zip(names, (pairs.champion, pairs.challenger), strict=True):
        side = Side(name, int(np.sum(scores >= section.threshold)), confusion(y, scores[known], section.threshold))
        if section.enough_labels:
            found.append(curves(name, y, scores[known]))
            side.roc_auc, side.average_precision = found[-1].roc_auc, found[-1].average_precision
        section.sides.append(side)
    if found:
        section.roc_svg = line_chart(
            [Series(c.name, c.roc) for c in found],
            title="ROC curve, same transactions",
            x_label="False positive rate",
            y_label="True positive rate",
            diagonal=True,
        )
        section.pr_svg = line_chart(
            [Series(c.name, c.pr, step=True) for c in found],
            title="Precision–recall curve, same transactions",
            x_label="Recall",
            y_label="Precision",
        )
    _disagreements_and_latest(section, pairs)
    return section


def _disagreements_and_latest(section: ShadowSection, pairs: selectors.ShadowPairs) -> None:
    flags_champion, flags_challenger = pairs.champion >= section.threshold, pairs.challenger >= section.threshold
    section.only_champion = int(np.sum(flags_champion & ~flags_challenger))
    section.only_challenger = int(np.sum(flags_challenger & ~flags_champion))
    differ = np.flatnonzero(flags_champion != flags_challenger)
    gaps = np.abs(pairs.challenger[differ] - pairs.champion[differ])
    shown = differ[np.argsort(-gaps, kind="stable")][:DISAGREEMENTS_SHOWN].tolist()
    latest = list(range(min(LATEST_SHOWN, pairs.count)))
    stored = selectors.transactions_by_pk(pairs.transaction_ids[shown + latest].tolist())

    def pair(k: int) -> dict:
        label = pairs.labels[k]
        return {
            "pk": int(pairs.transaction_ids[k]),
            "transaction": stored.get(int(pairs.transaction_ids[k])),
            "champion": float(pairs.champion[k]),
            "challenger": float(pairs.challenger[k]),
            "label": None if np.isnan(label) else int(label),
            "flagged_by": "challenger" if flags_challenger[k] else "champion",
        }

    section.disagreements = [pair(k) for k in shown]
    section.latest = [pair(k) for k in latest]
