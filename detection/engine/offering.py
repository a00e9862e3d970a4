"""Which items to offer analysts for review within a daily budget: the queue policy the product and the backtest share.

A budget of reviews is spent three ways, every offered item counted once against it, and offered in this order:

- **investigate**: a fraud confirmed recently widens the investigation to its merchant's and its card's other
  candidates (highest score first; ``investigate`` names which, in that order), up to ``investigate_share`` of the
  budget (rounded up);
- **exploit**: highest score first, all the budget but the exploration's share;
- **explore**: ``explore_share`` of the budget goes to the other candidates the models are least sure of (highest
  ``novelty``: the detectors disagree), so the labels are not only of what the models already rank first.

Each offered item carries a reason code (``REASONS`` gives its words). Pure numpy: the review app adapts its rows to
these arrays, and ``backtest`` calls the same ``offer`` each replayed day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INVESTIGATE_CARD = "investigate_card"
INVESTIGATE_MERCHANT = "investigate_merchant"
EXPLORE = "explore"
HIGH_RISK = "high_risk"
REASONS = {
    INVESTIGATE_CARD: "Same card as a fraud confirmed recently",
    INVESTIGATE_MERCHANT: "Same merchant as a fraud confirmed recently",
    EXPLORE: "The models disagree on it: its label teaches them most",
    HIGH_RISK: "Among the highest risk today",
}
DEFAULT_EXPLORE_SHARE = 0.1
DEFAULT_INVESTIGATE_SHARE = 0.5
# Which investigations, in the order they fill their share: a merchant's first (a compromised terminal's other
# transactions are frauds nothing else shows), then a card's.
INVESTIGATIONS = ("merchant", "card")
DEFAULT_INVESTIGATE = INVESTIGATIONS


@dataclass(frozen=True)
class Offered:
    """Positions into the candidates, in the order to offer them, and each one's reason code."""

    index: np.ndarray
    reason: np.ndarray

    def __len__(self) -> int:
        return len(self.index)

    def words(self) -> list[str]:
        return [REASONS[code] for code in self.reason]


def offer(
    *,
    score,
    cards,
    merchants,
    budget: int,
    novelty=None,
    confirmed_cards=(),
    confirmed_merchants=(),
    explore_share: float = DEFAULT_EXPLORE_SHARE,
    investigate_share: float = DEFAULT_INVESTIGATE_SHARE,
    investigate=DEFAULT_INVESTIGATE,
) -> Offered:
    """At most ``budget`` of the candidates (parallel arrays ``score``, ``cards``, ``merchants``, ``novelty``) to
    offer: investigations, then the highest scores, then exploration. ``confirmed_*``: the cards and merchants of
    frauds confirmed recently; ``investigate``: which investigations (``"merchant"``, ``"card"``), in order."""
    score = np.asarray(score, dtype=np.float64)
    budget = max(0, min(int(budget), len(score)))
    taken = np.zeros(len(score), bool)
    by_score = np.argsort(-score, kind="stable")

    def take(order: np.ndarray, limit: int, code: str) -> tuple[np.ndarray, np.ndarray]:
        chosen = order[~taken[order]][: max(0, limit)]
        taken[chosen] = True
        return chosen, np.full(len(chosen), code, dtype=object)

    parts = []
    # At least one review for a confirmed fraud's investigation while any budget is left (the product's budget
    # shrinks through the day: a small remainder must not shut investigations out).
    widen = int(np.ceil(budget * investigate_share - 1e-9))
    kinds = {
        "merchant": (INVESTIGATE_MERCHANT, merchants, confirmed_merchants),
        "card": (INVESTIGATE_CARD, cards, confirmed_cards),
    }
    for kind in investigate:
        if kind not in kinds:
            raise ValueError(f"investigate: {kind!r} is not one of {INVESTIGATIONS}")
        code, values, confirmed = kinds[kind]
        if len(confirmed):
            parts.append(take(by_score[_member(np.asarray(values)[by_score], confirmed)], widen - taken.sum(), code))
    explore = int(round(budget * explore_share)) if novelty is not None else 0
    parts.append(take(by_score, budget - int(taken.sum()) - explore, HIGH_RISK))
    if explore:
        parts.append(take(np.argsort(-np.asarray(novelty, dtype=np.float64), kind="stable"), explore, EXPLORE))
    return Offered(
        np.concatenate([p[0] for p in parts]).astype(np.int64), np.concatenate([p[1] for p in parts]).astype(object)
    )


def investigations(value: str) -> tuple[str, ...]:
    """``"merchant,card"`` as the tuple ``offer`` reads (empty: no investigation); an unknown name is refused."""
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    unknown = [name for name in names if name not in INVESTIGATIONS]
    if unknown:
        raise ValueError(f"investigate: {', '.join(unknown)} not among {', '.join(INVESTIGATIONS)}")
    return names


def novelty(components: dict) -> np.ndarray:
    """How unsure the models are of each row, in [0, 1]: the gap between the supervised and the unsupervised score
    when a supervised model exists (the labels say one thing, the traffic another), else the spread of the
    unsupervised components' scores (one detector finds it strange, another ordinary)."""
    if components.get("supervised") is not None:
        return np.abs(np.asarray(components["supervised"], float) - np.asarray(components["unsupervised"], float))
    parts = [np.asarray(components[k], float) for k in ("isolation_forest", "autoencoder", "tail") if k in components]
    if not parts:
        return np.zeros(len(np.asarray(components.get("unsupervised", []))))
    stacked = np.vstack(parts)
    return stacked.max(axis=0) - stacked.min(axis=0)


def _member(values: np.ndarray, confirmed) -> np.ndarray:
    confirmed = np.asarray(list(confirmed) if not isinstance(confirmed, np.ndarray) else confirmed)
    keep = confirmed[confirmed != ""] if confirmed.dtype.kind in "OUS" else confirmed
    return np.isin(values, keep) & (values != "") if values.dtype.kind in "OUS" else np.isin(values, keep)
