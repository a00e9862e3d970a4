"""Reasons in words: the rarest features of a transaction, in the direction that makes it risky.

A feature counts as a reason when fewer than ``1 / e**MIN_RARITY`` (about 1 in 100) of the training rows are as
extreme; the ``MAX_REASONS`` rarest are said, one per topic (the amount is not told twice).
"""

from __future__ import annotations

import math

import numpy as np

MIN_RARITY = 4.6
MAX_REASONS = 3
_WINDOW_WORDS = {"1h": "hour", "24h": "24 hours", "7d": "7 days", "14d": "14 days", "30d": "30 days"}


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"


def _count(v: float) -> int:
    return round(math.expm1(v))


def _signed(v: float) -> float:
    return math.copysign(math.expm1(abs(v)), v)


def _window(name: str) -> str:
    return _WINDOW_WORDS.get(name.rsplit("_", 1)[-1], name)


def _sentence(name: str, v: float, row: dict[str, float]) -> tuple[str, str] | None:
    """(topic, words) for one feature value, or None when it has nothing to say."""
    if name == "amount_log":
        return "amount", f"large amount ({math.expm1(v):,.2f})"
    if name in ("a_amount_vs_typical", "a_amount_z"):
        ratio = math.exp(row.get("a_amount_vs_typical", 0.0))
        return "amount", f"amount {ratio:.1f}x this account's typical amount"
    if name.startswith("a_count_"):
        return "velocity", f"{_count(v)} earlier transactions from this account in the last {_window(name)}"
    if name.startswith("a_amount_") and name[9:] in _WINDOW_WORDS:
        return "velocity", f"{math.expm1(v):,.2f} spent by this account in the last {_window(name)}"
    if name == "a_secs_since_prev_log":
        return "velocity", f"only {_duration(math.expm1(v))} since this account's previous transaction"
    if name == "a_location_shift_km_log":
        return "location", f"{math.expm1(v):,.0f} km from this account's usual location"
    if name == "distance_km_log":
        return "location", f"{math.expm1(v):,.0f} km from the customer's usual location"
    if name.startswith("a_new_"):
        thing = {
            "merchant": "at this merchant",
            "country": "in this country",
            "channel": "through this channel",
            "category": "in this merchant category",
        }[name[6:]]
        return f"new_{name[6:]}", f"first transaction {thing} in 30 days"
    if name == "a_hour_rarity" or name.startswith("hour_"):
        return "hour", "unusual hour of the day for this account" if name == "a_hour_rarity" else None
    if name == "a_known_frauds_30d":
        return "account_fraud", f"this account had {_count(v)} confirmed frauds in the last 30 days"
    if name.startswith("m_known_frauds_"):
        return "merchant_fraud", f"merchant had {_count(v)} confirmed frauds in the last {_window(name)}"
    if name == "m_known_fraud_rate_30d":
        return "merchant_fraud", f"{v:.0%} of this merchant's transactions in 30 days were confirmed frauds"
    if name == "m_amount_vs_typical":
        return "merchant_amount", f"amount {math.exp(v):.1f}x this merchant's typical amount"
    if name.startswith("m_count_"):
        return "merchant_volume", f"unusual merchant volume: {_count(v)} transactions in the last {_window(name)}"
    if name == "m_new_accounts_7d":
        return "merchant_volume", f"{_count(v)} new customers at this merchant in 7 days"
    if name.startswith("amount_vs_attr_"):
        return "amount", f"amount {math.exp(v):.1f}x the sender's {name[15:].replace('_', ' ')}"
    if name.startswith("attr_"):
        return f"attr_{name}", f"unusual {name[5:].replace('_', ' ')}: {_signed(v):,.4g}"
    return None


def reasons_for(X: np.ndarray, rarity: np.ndarray, names: list[str]) -> list[list[str]]:
    """The top reasons of each row, rarest first."""
    order = np.argsort(-rarity, axis=1, kind="stable")[:, : 3 * MAX_REASONS]
    out: list[list[str]] = []
    for i in range(len(X)):
        out.append(_row_reasons(X[i], rarity[i], order[i], names))
    return out


def _row_reasons(x: np.ndarray, rarity: np.ndarray, order: np.ndarray, names: list[str]) -> list[str]:
    if rarity[order[0]] < MIN_RARITY:
        return []
    row = {names[j]: float(x[j]) for j in order}
    row["a_amount_vs_typical"] = float(x[names.index("a_amount_vs_typical")])
    said, topics = [], set()
    for j in order:
        if rarity[j] < MIN_RARITY or len(said) == MAX_REASONS:
            break
        found = _sentence(names[j], float(x[j]), row)
        if found and found[1] and found[0] not in topics:
            topics.add(found[0])
            said.append(found[1])
    return said
