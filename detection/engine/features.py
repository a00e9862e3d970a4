"""Behavioural features: one code path for training, batch scoring and single-transaction scoring.

Every target row's features come only from rows strictly before it in (ts, row_id) order within a bounded
lookback, and labels only where ``label_known_ts <= `` the target's ts. Give ``build_features`` the target rows
plus the account's history (``ACCOUNT_LOOKBACK_SECONDS``) and the merchant's history
(``MERCHANT_LOOKBACK_SECONDS``) and the features equal those of the batch over the whole table.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from detection.engine.frame import Frame
from detection.engine.windows import Grouping, combine_codes, factorized, stable_order, time_order

HOUR, DAY = 3600, 86400
ACCOUNT_WINDOWS = {"1h": HOUR, "24h": DAY, "7d": 7 * DAY, "30d": 30 * DAY}
MERCHANT_WINDOWS = {"24h": DAY, "7d": 7 * DAY, "30d": 30 * DAY}
FRAUD_WINDOWS = {"7d": 7 * DAY, "14d": 14 * DAY, "30d": 30 * DAY}
NEW_ACCOUNT_WINDOW = 7 * DAY
ACCOUNT_LOOKBACK_SECONDS = 30 * DAY
# The merchant's "new accounts in 7 days" looks 7 more days back for each of those rows.
MERCHANT_LOOKBACK_SECONDS = max(30 * DAY, 2 * NEW_ACCOUNT_WINDOW)
LOG_SCALE = 1 << 16  # log-amounts in fixed point, so window sums are exact integers
DEGREE_SCALE = 1_000_000
EARTH_RADIUS_KM = 6371.0
_RISKY_ATTR_WORDS = ("count", "amount", "total", "sum", "velocity", "distance", "number")
_CALM_ATTR_WORDS = ("time_since", "since_last", "minutes_since", "seconds_since", "age")

# Direction in which a feature is risky: +1 higher, -1 lower, 0 either way.
BASE_DIRECTIONS: dict[str, int] = {
    "amount_log": 1,
    "hour_sin": 0,
    "hour_cos": 0,
    "is_online": 0,
    "is_atm": 0,
    "distance_km_log": 1,
    **{f"a_count_{w}": 1 for w in ACCOUNT_WINDOWS},
    **{f"a_amount_{w}": 1 for w in ACCOUNT_WINDOWS},
    "a_amount_share_24h": 1,
    "a_amount_vs_typical": 1,
    "a_amount_z": 1,
    "a_secs_since_prev_log": -1,
    "a_location_shift_km_log": 1,
    "a_new_merchant": 1,
    "a_new_country": 1,
    "a_new_channel": 1,
    "a_new_category": 1,
    "a_hour_rarity": 1,
    "a_known_frauds_30d": 1,
    **{f"m_count_{w}": 0 for w in MERCHANT_WINDOWS},
    "m_new_accounts_7d": 0,
    "m_amount_vs_typical": 1,
    **{f"m_known_frauds_{w}": 1 for w in FRAUD_WINDOWS},
    "m_known_fraud_rate_30d": 1,
}
# Features that measure a deviation (from the account, the merchant, the sender's own aggregates, or a known
# fraud) rather than an activity level: a busy account's high counts are ordinary for it, a 5x amount is not.
DEVIATION_FEATURES = (
    "amount_log",
    "a_amount_vs_typical",
    "a_amount_z",
    "m_amount_vs_typical",
    "distance_km_log",
    "a_location_shift_km_log",
    "a_new_country",
)
LABEL_FEATURES = ("a_known_frauds_30d", *(f"m_known_frauds_{w}" for w in FRAUD_WINDOWS), "m_known_fraud_rate_30d")
# Features for the supervised model only (the forest and the autoencoder do not read them; the tail model neither):
# the account's mean amount over 24 h / 7 d / 30 d (the handbook's customer spending windows), and the merchant's
# share of frauds among its transactions whose label is known (the handbook's terminal risk, which counts frauds
# over the transactions of a window ending where labels stop being known) with how many labels that share rests on.
SHARE_WINDOWS = {"14d": 14 * DAY, "30d": 30 * DAY}
SUPERVISED_DIRECTIONS: dict[str, int] = {
    **{f"a_mean_amount_{w}": 1 for w in ("24h", "7d", "30d")},
    **{f"m_known_fraud_share_{w}": 1 for w in SHARE_WINDOWS},
    **{f"m_known_labels_{w}": 0 for w in SHARE_WINDOWS},
}
SUPERVISED_FEATURES = tuple(SUPERVISED_DIRECTIONS)
# The merchant's fraud share over its most recently labelled transactions: a 9-day window whose known labels are, with
# chargebacks arriving about a week late, those of its latest day or two (the handbook's 1-day terminal risk). A
# merchant compromised recently shows it here before its 14- and 30-day shares, diluted by older clean days, rise.
RECENT_SHARE_WINDOW = ("9d", 9 * DAY)
RECENT_SHARE_DIRECTIONS: dict[str, int] = {"m_known_fraud_share_9d": 1, "m_known_labels_9d": 0}
RECENT_SHARE_FEATURES = tuple(RECENT_SHARE_DIRECTIONS)
# The account's largest amount of its last 7 days against its typical (30-day geometric-mean) amount: a card being
# drained shows repeated spikes, so a fraud whose own amount looks ordinary still follows a recent one.
AMOUNT_PEAK_WINDOW = 7 * DAY
AMOUNT_PEAK_DIRECTIONS: dict[str, int] = {"a_peak_amount_7d_vs_typical": 1}
AMOUNT_PEAK_FEATURES = tuple(AMOUNT_PEAK_DIRECTIONS)
# What the forest, the autoencoder and the tail model never read.
SUPERVISED_ONLY_FEATURES = (*SUPERVISED_FEATURES, *RECENT_SHARE_FEATURES, *AMOUNT_PEAK_FEATURES)
# The amount against the account's typical amount, raised by how far the account's largest amount of its last 7 days
# went beyond ordinary variation (``REPEAT_SPIKE_ORDINARY``): a card being drained shows repeated spikes, so once one
# has shown, a next amount only moderately above the typical one is no longer ordinary for that card. The typical
# amount is itself raised by the spikes it averages, which hides the next ones from the plain ratio. A deviation read
# by the tail model (and the supervised model); the forest and the autoencoder keep their inputs.
REPEAT_SPIKE_ORDINARY = math.log(2.5)  # a 7-day peak up to 2.5x the typical amount adds nothing
REPEAT_SPIKE_WEIGHT = 0.5  # log-ratio added per unit of log-ratio the peak goes beyond it
REPEAT_SPIKE_DIRECTIONS: dict[str, int] = {"a_amount_vs_typical_after_spike": 1}
REPEAT_SPIKE_FEATURES = tuple(REPEAT_SPIKE_DIRECTIONS)
# Card-not-present signals (``FeatureSpec.card_not_present``, only when the training data had any of the places, so
# that a sender without them keeps exactly its features): how far the billing place lies from where the goods go,
# whether the shipping place is new for the account (its last 30 days never shipped there), how far the shipping
# place lies from the account's usual places (the mean of its last 30 days' billing and shipping points), and whether
# the IP's country differs from the billing country. Each is 0 where a field it needs is missing: neutral. Deviations
# read by the tail model (and the supervised model): the forest and the autoencoder keep their inputs.
CARD_NOT_PRESENT_DIRECTIONS: dict[str, int] = {
    "billing_shipping_km_log": 1,
    "a_new_shipping_place": 1,
    "a_shipping_far_km_log": 1,
    "ip_country_mismatch": 1,
}
CARD_NOT_PRESENT_FEATURES = tuple(CARD_NOT_PRESENT_DIRECTIONS)
SHIPPING_PLACE_DECIMALS = 2  # coordinates rounded to about a kilometre name a place without a postal code
# What the forest and the autoencoder never read.
NOT_READ_BY_FOREST_OR_AUTOENCODER = (*SUPERVISED_ONLY_FEATURES, *REPEAT_SPIKE_FEATURES, *CARD_NOT_PRESENT_FEATURES)
# Features whose tail-model surprise is never below their observed rarity in the training rows (``TailModel``'s
# floor): the amount itself. The exponential tail fitted on the body of the log-amounts under-rates amounts rarer than
# anything ordinary traffic shows when the amounts' tail falls faster than exponential (the largest customers' ranges
# end); the floor only ever raises a surprise, so unlabelled anomalies in the training rows cannot lower it.
RARITY_FLOOR_FEATURES = ("amount_log",)


@dataclass
class FeatureSpec:
    """What the feature set is: fixed at training time and stored with the model."""

    attributes: list[str] = field(default_factory=list)
    # Whether the supervised-only features exist. Specs pickled before they did lack the field and read the class
    # default (False), so stored models keep computing the features they were trained on.
    supervised_features: bool = False
    # Whether the merchant's recent fraud share exists (``RECENT_SHARE_FEATURES``); older specs read False, as above.
    recent_share: bool = False
    # Whether the account's recent amount peak exists (``AMOUNT_PEAK_FEATURES``); older specs read False, as above.
    amount_peak: bool = False
    # Whether the amount against the typical amount after a spike exists (``REPEAT_SPIKE_FEATURES``); older specs read
    # False, as above.
    repeat_spike: bool = False
    # Whether the card-not-present features exist (``CARD_NOT_PRESENT_FEATURES``); older specs read False, as above.
    card_not_present: bool = False
    # Attributes read as they are rather than on a signed log scale (``inputs.signed_attributes``); a tuple, so specs
    # pickled before it existed read the class default (none) and keep the log scale they were trained on.
    linear_attributes: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        attrs = [f"attr_{a}" for a in self.attributes]
        combos = [f"amount_vs_attr_{a}" for a in self.attributes if _is_amount_like(a)]
        supervised = SUPERVISED_FEATURES if self.supervised_features else ()
        recent = RECENT_SHARE_FEATURES if self.recent_share else ()
        return [
            *BASE_DIRECTIONS,
            *attrs,
            *combos,
            *supervised,
            *recent,
            *(AMOUNT_PEAK_FEATURES if self.amount_peak else ()),
            *(REPEAT_SPIKE_FEATURES if self.repeat_spike else ()),
            *(CARD_NOT_PRESENT_FEATURES if self.card_not_present else ()),
        ]

    @property
    def deviations(self) -> list[str]:
        """The directed features the tail model reads: deviations, the sender's fields, label-aware features."""
        sender = [n for n in self.names if n.startswith(("attr_", "amount_vs_attr_"))]
        own = (*(REPEAT_SPIKE_FEATURES if self.repeat_spike else ()),)
        own += CARD_NOT_PRESENT_FEATURES if self.card_not_present else ()
        return [*DEVIATION_FEATURES, *own, *LABEL_FEATURES, *sender]

    @property
    def directions(self) -> dict[str, int]:
        directions = dict(BASE_DIRECTIONS)
        for a in self.attributes:
            directions[f"attr_{a}"] = _attr_direction(a)
            if _is_amount_like(a):
                directions[f"amount_vs_attr_{a}"] = 1
        if self.supervised_features:
            directions.update(SUPERVISED_DIRECTIONS)
        if self.recent_share:
            directions.update(RECENT_SHARE_DIRECTIONS)
        if self.amount_peak:
            directions.update(AMOUNT_PEAK_DIRECTIONS)
        if self.repeat_spike:
            directions.update(REPEAT_SPIKE_DIRECTIONS)
        if self.card_not_present:
            directions.update(CARD_NOT_PRESENT_DIRECTIONS)
        return directions

    @classmethod
    def infer(cls, frame: Frame) -> FeatureSpec:
        """Every attribute with at least one numeric value; the card-not-present features when any place is given."""
        return cls(
            attributes=sorted(a for a, v in frame.attrs.items() if np.isfinite(v).any()),
            supervised_features=True,
            recent_share=True,
            amount_peak=True,
            repeat_spike=True,
            card_not_present=bool(frame.places),
        )


def _is_amount_like(name: str) -> bool:
    """Sums over a window sent by the partner (``total_amount_24h``), which the amount is compared with."""
    lowered = name.lower()
    return "total" in lowered or "sum" in lowered or re.search(r"amount_\d+[smhdw]", lowered) is not None


def _attr_direction(name: str) -> int:
    lowered = name.lower()
    if any(word in lowered for word in _CALM_ATTR_WORDS):
        return -1
    return 1 if any(word in lowered for word in _RISKY_ATTR_WORDS) else 0


@dataclass
class FeatureMatrix:
    X: np.ndarray  # float32 (n_targets, n_features)
    names: list[str]
    rows: np.ndarray  # positions of the target rows in the frame, in frame order

    def column(self, name: str) -> np.ndarray:
        return self.X[:, self.names.index(name)]


def build_features(frame, *, target_mask=None, spec: FeatureSpec | None = None) -> FeatureMatrix:
    """Features for the target rows (all rows when no mask), in frame order."""
    data = Frame.of(frame)
    spec = spec or FeatureSpec.infer(data)
    rows = np.arange(len(data)) if target_mask is None else np.flatnonzero(np.asarray(target_mask))
    values = _Builder(data, rows).build(spec)
    X = np.empty((len(rows), len(spec.names)), dtype=np.float32)
    for j, name in enumerate(spec.names):
        X[:, j] = values[name]
    return FeatureMatrix(X=X, names=spec.names, rows=rows)


def new_for_account(frame, column: np.ndarray, *, target_mask) -> np.ndarray:
    """Whether each target row's value of ``column`` (text, one per frame row, "" = none) is new for its account: the
    rule of the ``a_new_*`` features, for a column the models do not read (a rule's ``first_device_for_account``).
    The frame holds the targets and their accounts' history, as for ``build_features``."""
    data = Frame.of(frame)
    rows = np.flatnonzero(np.asarray(target_mask))
    builder = _Builder(data, rows)
    account = builder.grouping(data.account_id)
    start = account.start(ACCOUNT_WINDOWS["30d"])
    builder.account_start, builder.account_n = start, account.count(start)
    return builder.new_for_account(account, column)


# The merchant's activity rules may read beside the models' features: its count over the last hour and its totals.
RULE_MERCHANT_WINDOWS = {"1h": HOUR, **MERCHANT_WINDOWS}


def merchant_activity(frame, *, target_mask) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The targets' positions and, for each, its merchant's transactions strictly before it: ``m_count_1h`` and
    ``m_amount_<window>`` (the total amount) over each of ``RULE_MERCHANT_WINDOWS``, scaled as the features are
    (``log1p``; 0 without a merchant). No model reads them: rules do. The frame holds the merchants' history."""
    data = Frame.of(frame)
    rows = np.flatnonzero(np.asarray(target_mask))
    builder = _Builder(data, rows)
    g = builder.grouping(data.merchant_id)
    has = data.merchant_id[rows] != ""
    amount_sums = g.cumsum(np.rint(data.amount * 100).astype(np.int64))
    out = {"m_count_1h": np.where(has, np.log1p(g.count(g.start(HOUR))), 0.0)}
    for name, width in RULE_MERCHANT_WINDOWS.items():
        total = g.window_sum(amount_sums, g.start(width)) / 100
        out[f"m_amount_{name}"] = np.where(has, np.log1p(total), 0.0)
    return rows, out


class _Builder:
    def __init__(self, data: Frame, rows: np.ndarray):
        self.d, self.rows = data, rows
        self.t0 = int(data.ts.min()) if len(data) else 0
        self.rel_ts = data.ts - self.t0
        self.span = int(self.rel_ts.max(initial=0)) + 2 * MERCHANT_LOOKBACK_SECONDS + 1
        self.time_order = time_order(data.ts, data.row_id)
        self.amount = data.amount[rows]
        self.log_amount_q = np.rint(np.log1p(np.maximum(data.amount, 0.0)) * LOG_SCALE).astype(np.int64)
        self.out: dict[str, np.ndarray] = {}
        self._codes: dict[int, tuple[np.ndarray, np.ndarray, bool]] = {}
        self._groupings: dict[tuple[int, ...], Grouping] = {}

    def grouping(self, *columns: np.ndarray) -> Grouping:
        """Rows grouped by the columns' values together. A column with one value all over the frame groups nothing
        (a sender that never gives the country, say): (account, country) is then the account's grouping, made once.
        """
        varied = [c for c in columns if self._coded(c)[1]] or list(columns[:1])
        key = tuple(id(c) for c in varied)  # the columns are kept with their codes, so their ids stay theirs
        if key not in self._groupings:
            parts = [self._codes_of(c) for c in varied]
            codes = combine_codes(parts)
            if len(varied) > 1:  # (account, merchant) divides the account's rows: sorted from its grouping's order
                rows_in_order, parts = self.grouping(varied[0]).order, parts[1:]
            else:
                rows_in_order = self.time_order
            self._groupings[key] = Grouping(codes, self.rel_ts, rows_in_order, self.rows, self.span, parts)
        return self._groupings[key]

    def _codes_of(self, column: np.ndarray) -> np.ndarray:
        return self._coded(column)[0]

    def _coded(self, column: np.ndarray) -> tuple[np.ndarray, bool]:
        """A column's codes and whether they vary, found once per build (the account id takes part in six
        groupings)."""
        if id(column) not in self._codes:  # the column is kept with its codes, so its id cannot be reused
            codes = factorized(column)
            self._codes[id(column)] = (column, codes, _varies(codes))
        return self._codes[id(column)][1:]

    def build(self, spec: FeatureSpec) -> dict[str, np.ndarray]:
        self.supervised, self.recent_share = spec.supervised_features, spec.recent_share
        self.amount_peak, self.repeat_spike = spec.amount_peak, spec.repeat_spike
        self._transaction()
        account = self.grouping(self.d.account_id)
        self._account_windows(account)
        self._account_location(account)
        self._account_novelty(account)
        self._merchant(self.grouping(self.d.merchant_id))
        self._attributes(spec)
        if spec.card_not_present:
            self._card_not_present(account)
        return self.out

    def _transaction(self) -> None:
        d, r, out = self.d, self.rows, self.out
        out["amount_log"] = self.log_amount_q[r] / LOG_SCALE
        angle = (d.ts[r] % DAY) * (2 * np.pi / DAY)
        out["hour_sin"], out["hour_cos"] = np.sin(angle), np.cos(angle)
        out["is_online"] = (d.channel[r] == "online").astype(np.float64)
        out["is_atm"] = (d.channel[r] == "atm").astype(np.float64)
        out["distance_km_log"] = np.log1p(np.nan_to_num(np.maximum(d.location_distance_km[r], 0.0)))

    def _account_windows(self, g: Grouping) -> None:
        out, amount_cents = self.out, np.rint(self.d.amount * 100).astype(np.int64)
        amount_sums = g.cumsum(amount_cents)
        for name, width in ACCOUNT_WINDOWS.items():
            start = g.start(width)
            out[f"a_count_{name}"] = np.log1p(g.count(start))
            total = g.window_sum(amount_sums, start) / 100
            out[f"a_amount_{name}"] = np.log1p(total)
            if self.supervised and name != "1h":
                count = g.count(start)
                out[f"a_mean_amount_{name}"] = np.log1p(np.where(count > 0, total / np.maximum(count, 1), 0.0))
            if name == "24h":
                out["a_amount_share_24h"] = self.amount / np.maximum(self.amount + total, 1e-9)
        start = g.start(ACCOUNT_WINDOWS["30d"])
        self.account_start, self.account_n = start, g.count(start)
        log_sums = g.cumsum(self.log_amount_q)
        square_sums = g.cumsum(self.log_amount_q * self.log_amount_q)
        log_total = g.window_sum(log_sums, start)
        out["a_amount_vs_typical"], out["a_amount_z"] = _relative_amount(
            out["amount_log"], log_total, g.window_sum(square_sums, start), self.account_n
        )
        if self.amount_peak or self.repeat_spike:
            peak = self._amount_peak(g, log_total)
            if self.amount_peak:
                out["a_peak_amount_7d_vs_typical"] = peak
            if self.repeat_spike:
                beyond = np.maximum(peak - REPEAT_SPIKE_ORDINARY, 0.0)
                out["a_amount_vs_typical_after_spike"] = out["a_amount_vs_typical"] + REPEAT_SPIKE_WEIGHT * beyond
        previous = g.previous_ts()
        gap = np.where(previous >= 0, g.t - previous, ACCOUNT_LOOKBACK_SECONDS)
        out["a_secs_since_prev_log"] = np.log1p(np.minimum(gap, ACCOUNT_LOOKBACK_SECONDS))
        is_fraud = (self.d.label == 1) & np.isfinite(self.d.label_known_ts)
        known = np.where(is_fraud, self.d.label_known_ts - self.t0, np.inf)
        out["a_known_frauds_30d"] = np.log1p(g.known_events(start, is_fraud, known))

    def _amount_peak(self, g: Grouping, log_total: np.ndarray) -> np.ndarray:
        """Log-ratio of the largest amount of the account's last 7 days to its 30-day typical amount (0: none)."""
        peak_start = g.start(AMOUNT_PEAK_WINDOW)
        peak = g.window_max(self.log_amount_q, peak_start) / LOG_SCALE
        typical = log_total / np.maximum(self.account_n, 1) / LOG_SCALE
        return np.where(g.count(peak_start) > 0, peak - typical, 0.0)

    def _account_location(self, g: Grouping) -> None:
        d, r, start = self.d, self.rows, self.account_start
        valid = np.isfinite(d.latitude) & np.isfinite(d.longitude)
        if not valid[r].any():  # no target has coordinates (many senders give none): no shift to measure
            self.out["a_location_shift_km_log"] = np.zeros(len(r))
            return
        lat_q = np.where(valid, np.rint(np.nan_to_num(d.latitude) * DEGREE_SCALE), 0).astype(np.int64)
        lon_q = np.where(valid, np.rint(np.nan_to_num(d.longitude) * DEGREE_SCALE), 0).astype(np.int64)
        n = g.window_sum(g.cumsum(valid.astype(np.int64)), start)
        has = (n > 0) & valid[r]
        safe_n = np.maximum(n, 1)
        lat0 = g.window_sum(g.cumsum(lat_q), start) / safe_n / DEGREE_SCALE
        lon0 = g.window_sum(g.cumsum(lon_q), start) / safe_n / DEGREE_SCALE
        km = _haversine_km(np.nan_to_num(d.latitude[r]), np.nan_to_num(d.longitude[r]), lat0, lon0)
        self.out["a_location_shift_km_log"] = np.where(has, np.log1p(km), 0.0)

    def _account_novelty(self, g: Grouping) -> None:
        """Whether the account's last 30 days held the target's merchant (country, channel, category), and how many
        of them fell in its 3-hour slot of the day: counted among the account's window rows (``g.matches``), which
        hold exactly the rows a grouping by (account, merchant) would put in the same window."""
        d, start = self.d, self.account_start
        for name, column in (
            ("merchant", d.merchant_id),
            ("country", d.country),
            ("channel", d.channel),
            ("category", d.merchant_category),
        ):
            self.out[f"a_new_{name}"] = self.new_for_account(g, column).astype(np.float64)
        hour_bucket = (d.ts % DAY) // (3 * HOUR)
        same = g.matches(start, factorized(hour_bucket))
        self.out["a_hour_rarity"] = (self.account_n - same) / (self.account_n + 2.0)

    def new_for_account(self, g: Grouping, column: np.ndarray) -> np.ndarray:
        """Whether each target's value of the column is one its account's last 30 days never held (the account has
        some history; the value is not ""). ``_account_windows`` must have run (its window start and count)."""
        seen = g.matches(self.account_start, self._codes_of(column)) > 0
        return (self.account_n > 0) & ~seen & (column[self.rows] != "")

    def _merchant(self, g: Grouping) -> None:
        d, r, out = self.d, self.rows, self.out
        has = d.merchant_id[r] != ""
        for name, width in MERCHANT_WINDOWS.items():
            out[f"m_count_{name}"] = np.where(has, np.log1p(g.count(g.start(width))), 0.0)
        start = g.start(MERCHANT_WINDOWS["30d"])
        n = g.count(start)
        relative, _ = _relative_amount(
            out["amount_log"],
            g.window_sum(g.cumsum(self.log_amount_q), start),
            g.window_sum(g.cumsum(self.log_amount_q * self.log_amount_q), start),
            n,
        )
        out["m_amount_vs_typical"] = np.where(has, relative, 0.0)
        out["m_new_accounts_7d"] = np.where(has, np.log1p(self._merchant_new_accounts(g)), 0.0)
        is_fraud = (d.label == 1) & np.isfinite(d.label_known_ts) & (d.merchant_id != "")
        known = np.where(is_fraud, d.label_known_ts - self.t0, np.inf)
        is_labelled = np.isfinite(d.label) & np.isfinite(d.label_known_ts) & (d.merchant_id != "")
        labelled = (is_labelled, np.where(is_labelled, d.label_known_ts - self.t0, np.inf))
        for name, width in FRAUD_WINDOWS.items():
            frauds = g.known_events(g.start(width), is_fraud, known)
            out[f"m_known_frauds_{name}"] = np.where(has, np.log1p(frauds), 0.0)
            if name == "30d":
                out["m_known_fraud_rate_30d"] = np.where(has, frauds / (n + 1.0), 0.0)
            if self.supervised and name in SHARE_WINDOWS:
                self._merchant_share(g, name, width, frauds, has, labelled)
        if self.recent_share:
            name, width = RECENT_SHARE_WINDOW
            self._merchant_share(g, name, width, g.known_events(g.start(width), is_fraud, known), has, labelled)

    def _merchant_share(
        self, g: Grouping, name: str, width: int, frauds: np.ndarray, has: np.ndarray, labelled: tuple
    ) -> None:
        """Known frauds over the window's transactions whose label is known (fraud or not) at the target's time;
        ``labelled``: which rows are labelled, and when each label became known (relative seconds)."""
        labels = g.known_events(g.start(width), *labelled)
        self.out[f"m_known_fraud_share_{name}"] = np.where(has, frauds / (labels + 1.0), 0.0)
        self.out[f"m_known_labels_{name}"] = np.where(has, np.log1p(labels), 0.0)

    def _merchant_new_accounts(self, g: Grouping) -> np.ndarray:
        """Rows in the last 7 days whose account had not used this merchant in the 7 days before that row."""
        d = self.d
        merchants_rows = g.order  # every row of the targets' merchants, in (merchant, ts, row_id) order
        pairs = combine_codes([self._codes_of(column)[merchants_rows] for column in (d.merchant_id, d.account_id)])
        # In (merchant, account, ts, row_id) order (a stable sort of that order by the pairs), a row's account had
        # used the merchant in the 7 days before it exactly when the row just before it is of the same pair and at
        # most 7 days older: the latest of the pair's earlier rows.
        in_order = stable_order(pairs)
        pairs, ts = pairs[in_order], self.rel_ts[merchants_rows[in_order]]
        seen = np.zeros(len(in_order), dtype=bool)
        seen[1:] = (pairs[1:] == pairs[:-1]) & (ts[:-1] >= ts[1:] - NEW_ACCOUNT_WINDOW)
        is_new = np.zeros(len(d), dtype=np.int64)
        is_new[merchants_rows[in_order]] = ~seen
        return g.window_sum(g.cumsum(is_new), g.start(NEW_ACCOUNT_WINDOW))

    def _card_not_present(self, g: Grouping) -> None:
        d, r, out = self.d, self.rows, self.out
        bill_lat, bill_lon = d.place("billing_latitude"), d.place("billing_longitude")
        ship_lat, ship_lon = d.place("shipping_latitude"), d.place("shipping_longitude")
        billed = np.isfinite(bill_lat) & np.isfinite(bill_lon)
        shipped = np.isfinite(ship_lat) & np.isfinite(ship_lon)
        both = billed[r] & shipped[r]
        km = _haversine_km(*(np.nan_to_num(v[r]) for v in (bill_lat, bill_lon, ship_lat, ship_lon)))
        out["billing_shipping_km_log"] = np.where(both, np.log1p(km), 0.0)
        out["a_new_shipping_place"] = self.new_for_account(g, _shipping_place(d)).astype(np.float64)
        billing, shipping = (bill_lat, bill_lon, billed), (ship_lat, ship_lon, shipped)
        out["a_shipping_far_km_log"] = self._shipping_far(g, billing, shipping)
        ip, billing_country = d.place("ip_country")[r], d.place("billing_country")[r]
        out["ip_country_mismatch"] = ((ip != "") & (billing_country != "") & (ip != billing_country)).astype(np.float64)

    def _shipping_far(self, g: Grouping, billing: tuple, shipping: tuple) -> np.ndarray:
        """km (log1p) from the target's shipping point to the mean of its account's billing and shipping points of
        the last 30 days (0 without a shipping point or without such points)."""
        start, n, lat_sum, lon_sum = self.account_start, 0, 0, 0
        for lat, lon, valid in (billing, shipping):
            lat_q = np.where(valid, np.rint(np.nan_to_num(lat) * DEGREE_SCALE), 0).astype(np.int64)
            lon_q = np.where(valid, np.rint(np.nan_to_num(lon) * DEGREE_SCALE), 0).astype(np.int64)
            n = n + g.window_sum(g.cumsum(valid.astype(np.int64)), start)
            lat_sum = lat_sum + g.window_sum(g.cumsum(lat_q), start)
            lon_sum = lon_sum + g.window_sum(g.cumsum(lon_q), start)
        ship_lat, ship_lon, shipped = shipping
        r, safe_n = self.rows, np.maximum(n, 1)
        km = _haversine_km(
            np.nan_to_num(ship_lat[r]),
            np.nan_to_num(ship_lon[r]),
            lat_sum / safe_n / DEGREE_SCALE,
            lon_sum / safe_n / DEGREE_SCALE,
        )
        return np.where((n > 0) & shipped[r], np.log1p(km), 0.0)

    def _attributes(self, spec: FeatureSpec) -> None:
        for name in spec.attributes:
            raw = self.d.attrs.get(name)
            value = np.zeros(len(self.rows)) if raw is None else np.nan_to_num(raw[self.rows])
            linear = name in spec.linear_attributes
            self.out[f"attr_{name}"] = value if linear else np.sign(value) * np.log1p(np.abs(value))
            if _is_amount_like(name):
                self.out[f"amount_vs_attr_{name}"] = self.out["amount_log"] - np.log1p(np.maximum(value, 0.0))


def _shipping_place(d: Frame) -> np.ndarray:
    """Each row's shipping place as text ("" = none): its postal code and country when either is given, else its
    coordinates rounded to SHIPPING_PLACE_DECIMALS."""
    code, country = d.place("shipping_postal_code"), d.place("shipping_country")
    lat, lon = d.place("shipping_latitude"), d.place("shipping_longitude")
    named = (code != "") | (country != "")
    located = np.isfinite(lat) & np.isfinite(lon)
    places = np.full(len(d), "", dtype=object)
    if named.any():
        places[named] = np.char.add(np.char.add(country[named].astype(str), "|"), code[named].astype(str))
    rest = located & ~named
    if rest.any():
        rounded = np.round(np.stack([lat[rest], lon[rest]]), SHIPPING_PLACE_DECIMALS)
        places[rest] = [f"@{a:.2f},{b:.2f}" for a, b in rounded.T]
    return places


def _varies(codes: np.ndarray) -> bool:
    return bool(len(codes)) and int(codes.min()) != int(codes.max())


def _relative_amount(log_amount, log_sum, square_sum, n) -> tuple[np.ndarray, np.ndarray]:
    """Log-ratio of the amount to the window's geometric mean, and a shrunk z-score (0 with no history)."""
    safe_n = np.maximum(n, 1)
    mean = log_sum / safe_n / LOG_SCALE
    variance = np.maximum(square_sum / safe_n / LOG_SCALE**2 - mean * mean, 0.0)
    relative = np.where(n > 0, log_amount - mean, 0.0)
    z = relative / np.sqrt(variance + 0.25) * (n / (n + 1.0))
    return relative, z


def _haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    lat1, lon1, lat2, lon2 = (np.radians(v) for v in (lat1, lon1, lat2, lon2))
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
