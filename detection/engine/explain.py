"""Reasons in words: the rarest features of a transaction, in the direction that makes it risky.

A feature counts as a reason when fewer than ``1 / e**MIN_RARITY`` (about 1 in 100) of the training rows are as
extreme; the ``MAX_REASONS`` rarest are said, one per topic (the amount is not told twice).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import numpy as np

from detection.engine.features import REPEAT_SPIKE_ORDINARY, REPEAT_SPIKE_WEIGHT

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


def _counted(v: float, noun: str) -> str:
    """A count and its noun in the right number: "1 confirmed fraud", "2 confirmed frauds"."""
    n = _count(v)
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _signed(v: float) -> float:
    return math.copysign(math.expm1(abs(v)), v)


def _window(name: str) -> str:
    return _WINDOW_WORDS.get(name.rsplit("_", 1)[-1], name)


# A feature's topic (one reason per topic) and its words: (value, the row's amount-vs-typical log-ratio) -> the
# sentence, or None when the value has nothing to say.
Speaker = tuple[str, Callable[[float, float], str | None]]


@functools.cache
def _speaker(name: str) -> Speaker | None:
    """How to word a feature, or None for a feature never said. Found once per feature name: a batch words about
    10,000 rows' reasons, and the name's tests would run for every one."""
    window = _window(name)
    if name == "amount_log":
        return "amount", lambda v, _: f"large amount ({math.expm1(v):,.2f})"
    if name in ("a_amount_vs_typical", "a_amount_z"):
        return "amount", lambda _, typical: f"amount {math.exp(typical):.1f}x this account's typical amount"
    if name == "a_amount_vs_typical_after_spike":
        return "amount", _after_spike
    if name == "a_peak_amount_7d_vs_typical":
        peak = "this account's typical amount in the last 7 days"
        return "amount_peak", lambda v, _: f"a transaction of {math.exp(v):.1f}x {peak}"
    if name.startswith("a_count_"):
        return "velocity", lambda v, _: f"{_counted(v, 'earlier transaction')} from this account in the last {window}"
    if name.startswith("a_amount_") and name[9:] in _WINDOW_WORDS:
        return "velocity", lambda v, _: f"{math.expm1(v):,.2f} spent by this account in the last {window}"
    if name == "a_secs_since_prev_log":
        return "velocity", lambda v, _: f"only {_duration(math.expm1(v))} since this account's previous transaction"
    if name == "a_location_shift_km_log":
        return "location", lambda v, _: f"{math.expm1(v):,.0f} km from this account's usual location"
    if name == "distance_km_log":
        return "location", lambda v, _: f"{math.expm1(v):,.0f} km from the customer's usual location"
    if name == "billing_shipping_km_log":
        return "shipping", lambda v, _: f"goods shipped {math.expm1(v):,.0f} km from the billing address"
    if name == "a_new_shipping_place":
        return "shipping_new", lambda v, _: "first order shipped to this place for this account in 30 days"
    if name == "a_shipping_far_km_log":
        return "shipping", lambda v, _: f"shipping place {math.expm1(v):,.0f} km from this account's usual places"
    if name == "ip_country_mismatch":
        return "ip_country", lambda v, _: "the customer's IP address is in another country than the billing address"
    if name.startswith("a_new_"):
        thing = {
            "merchant": "at this merchant",
            "country": "in this country",
            "channel": "through this channel",
            "category": "in this merchant category",
        }[name[6:]]
        return f"new_{name[6:]}", lambda v, _: f"first transaction {thing} in 30 days"
    if name == "a_hour_rarity":
        return "hour", lambda v, _: "unusual hour of the day for this account"
    if name.startswith("hour_"):
        return "hour", lambda v, _: None
    if name == "a_known_frauds_30d":
        return "account_fraud", lambda v, _: f"this account had {_counted(v, 'confirmed fraud')} in the last 30 days"
    if name.startswith("m_known_frauds_"):
        return "merchant_fraud", lambda v, _: f"merchant had {_counted(v, 'confirmed fraud')} in the last {window}"
    if name == "m_known_fraud_rate_30d":
        among = "this merchant's transactions in 30 days"
        return "merchant_fraud", lambda v, _: f"{v:.0%} of {among} were confirmed frauds"
    if name.startswith("m_known_fraud_share_"):
        among = f"this merchant's labelled transactions in {window}"
        return "merchant_fraud", lambda v, _: f"{v:.0%} of {among} were frauds"
    if name == "m_amount_vs_typical":
        return "merchant_amount", lambda v, _: f"amount {math.exp(v):.1f}x this merchant's typical amount"
    if name.startswith("m_count_"):
        volume = "unusual merchant volume"
        return "merchant_volume", lambda v, _: f"{volume}: {_counted(v, 'transaction')} in the last {window}"
    if name == "m_new_accounts_7d":
        return "merchant_volume", lambda v, _: f"{_counted(v, 'new customer')} at this merchant in 7 days"
    if name.startswith("amount_vs_attr_"):
        what = name[15:].replace("_", " ")
        return "amount", lambda v, _: f"amount {math.exp(v):.1f}x the sender's {what}"
    if name.startswith("attr_"):
        what = name[5:].replace("_", " ")
        return f"attr_{name}", lambda v, _: f"unusual {what}: {_signed(v):,.4g}"
    return None


def _after_spike(v: float, typical: float) -> str:
    """The amount's ratio to the typical amount and, when it raised the feature, the recent spike that did."""
    words = f"amount {math.exp(typical):.1f}x this account's typical amount"
    beyond = (v - typical) / REPEAT_SPIKE_WEIGHT
    if beyond > 1e-3:
        words += f", after one of {math.exp(REPEAT_SPIKE_ORDINARY + beyond):.1f}x in the last 7 days"
    return words


class Reasons(Sequence):
    """The reasons of each scored row, worded when read.

    The rare entries of every row are found and ranked as arrays; only a row that is read gets its sentences
    (a batch that stores scores only never pays for the words). ``reasons[i]`` is a list of strings.
    """

    def __init__(
        self,
        X: np.ndarray,
        entries: tuple[np.ndarray, np.ndarray, np.ndarray],
        names: list[str],
        amounts: np.ndarray | None = None,
    ):
        """``amounts``: each row's amount, quoted as it is (the features hold it rounded); None to word the feature."""
        rows, cols, rarity = entries
        order = np.lexsort((cols, -rarity, rows))  # by row, rarest first, ties by feature position
        self._rows, self._cols = rows[order], cols[order]
        self._bounds = np.searchsorted(self._rows, np.arange(len(X) + 1)).tolist()  # indexed once per row read
        self._X, self._names = X, names
        self._amounts = None if amounts is None else np.asarray(amounts, dtype=np.float64).tolist()
        self._typical = names.index("a_amount_vs_typical") if "a_amount_vs_typical" in names else None

    def __len__(self) -> int:
        return len(self._bounds) - 1

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        lo, hi = self._bounds[i], self._bounds[i + 1]
        if lo == hi:
            return []
        x = self._X[i]
        typical = 0.0 if self._typical is None else float(x[self._typical])
        amount = None if self._amounts is None else self._amounts[i]
        return _row_reasons(x, self._cols[lo : min(hi, lo + 3 * MAX_REASONS)], self._names, typical, amount)


def reasons_for(
    X: np.ndarray,
    entries: tuple[np.ndarray, np.ndarray, np.ndarray],
    names: list[str],
    amounts: np.ndarray | None = None,
) -> Reasons:
    """The top reasons of each row, rarest first, from the entries at least ``MIN_RARITY`` rare."""
    return Reasons(X, entries, names, amounts)


def _row_reasons(
    x: np.ndarray, columns: np.ndarray, names: list[str], typical: float, amount: float | None = None
) -> list[str]:
    said, topics = [], set()
    for j in columns.tolist():
        if len(said) == MAX_REASONS:
            break
        speaker = _speaker(names[j])
        if speaker is None:
            continue
        topic, words = speaker
        value = float(x[j])
        if amount is not None and names[j] == "amount_log":
            # The feature is the log-amount in fixed point (to 1/65536): the words quote the amount itself.
            value = math.log1p(max(amount, 0.0))
        sentence = words(value, typical)
        if sentence and topic not in topics:
            topics.add(topic)
            said.append(sentence)
    return said
