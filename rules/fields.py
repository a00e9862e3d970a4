"""The catalogue of names a rule reads: the transaction's fields, its time, the engine's features in real units,
and the model's scores; with how each column is computed for a scored batch.

The engine keeps counts, sums and distances as ``log1p`` and amount ratios as log-ratios (``features.py``); the
catalogue undoes that, so a rule says ``count_24h_account > 10`` and ``sum_24h_account > 2000``. Every window
counts the account's (or merchant's) transactions strictly before this one, up to its width before it, within
the organisation. A feature the active model was not trained with is computed here, for the batch's rows only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from detection.engine.detector import UNSUPERVISED
from detection.engine.features import (
    ACCOUNT_LOOKBACK_SECONDS,
    RULE_MERCHANT_WINDOWS,
    FeatureSpec,
    build_features,
    merchant_activity,
    new_for_account,
)
from detection.engine.frame import ATTR_PREFIX, PLACE_COLUMNS, Frame
from detection.engine.windows import factorized
from detection.scoring.adapters import STORED_FIELDS
from rules.language import FUNCTION_DESCRIPTIONS, Schema, Type

ATTRIBUTES_PREFIX = "attributes."
COMPONENTS = (*UNSUPERVISED, "unsupervised", "supervised")
# Every engine feature the catalogue reads, whatever the active model's spec holds.
_FULL_SPEC = FeatureSpec(
    attributes=[],
    supervised_features=True,
    recent_share=True,
    amount_peak=True,
    repeat_spike=True,
    card_not_present=True,
)


@dataclass(frozen=True)
class Field:
    type: Type
    description: str
    group: str  # transaction | time | account | merchant | model
    kind: str | None = None  # the kind of list its values are looked up in (merchant_id → merchant)


@dataclass(frozen=True)
class _Feature:
    """A catalogue name read from an engine feature: which one, how to undo its scaling, when it is missing."""

    engine: str
    unit: Callable[[np.ndarray], np.ndarray]
    per_merchant: bool = False  # missing where the transaction names no merchant


def _count(x):
    return np.rint(np.expm1(x))


def _seconds(x):
    """Seconds since the previous transaction, at most the 30-day lookback (the engine's value with none)."""
    seconds = np.rint(np.expm1(x))
    return np.where(seconds >= ACCOUNT_LOOKBACK_SECONDS * (1 - 1e-5), ACCOUNT_LOOKBACK_SECONDS, seconds)


def _money(x):
    return np.round(np.expm1(x), 2)


def _ratio(x):
    return np.exp(x)


def _km(x):
    return np.round(np.expm1(x), 3)


def _as_is(x):
    return x


def _flag(x):
    return x > 0.5


FIELDS: dict[str, Field] = {}
_FEATURES: dict[str, _Feature] = {}


def _field(name: str, kind: Type, description: str, group: str, list_kind: str | None = None) -> None:
    FIELDS[name] = Field(kind, description, group, list_kind)


def _feature(name: str, kind: Type, description: str, group: str, feature: _Feature) -> None:
    _field(name, kind, description, group)
    _FEATURES[name] = feature


_WINDOW_WORDS = {"1h": "hour", "24h": "24 hours", "7d": "7 days", "9d": "9 days", "14d": "14 days", "30d": "30 days"}

# The transaction.
_field("amount", Type.NUMBER, "The transaction's amount, in its currency.", "transaction")
_field("account_id", Type.STRING, "The account (card, customer) that made the transaction.", "transaction", "account")
_field("merchant_id", Type.STRING, "The merchant (or terminal) paid; missing when none.", "transaction", "merchant")
_field(
    "merchant_category",
    Type.STRING,
    "The merchant's category as sent (e.g. an MCC); missing when none.",
    "transaction",
    "text",
)
_field("channel", Type.STRING, 'How it was made: "online", "in_person", "atm" or "other".', "transaction", "text")
_field("country", Type.STRING, 'The country as sent (e.g. "FR"); missing when none.', "transaction", "country")
_field(
    "device_id",
    Type.STRING,
    "The device (or browser fingerprint) it was made from, as sent; missing when none.",
    "transaction",
    "device",
)
_field("currency", Type.STRING, 'The currency of the amount, as sent (e.g. "EUR").', "transaction", "text")
_field("latitude", Type.NUMBER, "Where it was made (degrees); missing when not sent.", "transaction")
_field("longitude", Type.NUMBER, "Where it was made (degrees); missing when not sent.", "transaction")
_field(
    "location_distance_km",
    Type.NUMBER,
    "Distance from the customer's home as the sender measured it (km); missing when not sent.",
    "transaction",
)
# Card-not-present places (missing when not sent; most senders send none).
for _place in ("billing", "shipping"):
    _where = "the card is billed" if _place == "billing" else "the goods are sent"
    _field(f"{_place}_latitude", Type.NUMBER, f"Where {_where} (degrees); missing when not sent.", "transaction")
    _field(f"{_place}_longitude", Type.NUMBER, f"Where {_where} (degrees); missing when not sent.", "transaction")
    _field(
        f"{_place}_postal_code",
        Type.STRING,
        f"The postal code where {_where}; missing when none.",
        "transaction",
        "text",
    )
    _field(
        f"{_place}_country",
        Type.STRING,
        f'The country where {_where} (e.g. "FR"); missing when none.',
        "transaction",
        "country",
    )
_field(
    "ip_country", Type.STRING, "The country of the customer's IP address; missing when none.", "transaction", "country"
)
# Its time (UTC).
_field("hour", Type.NUMBER, "Hour of the day it was made, 0 to 23 (UTC).", "time")
_field("weekday", Type.NUMBER, "Day of the week it was made, 1 (Monday) to 7 (Sunday) (UTC).", "time")

# The account's behaviour before this transaction.
for _w in ("1h", "24h", "7d", "30d"):
    _feature(
        f"count_{_w}_account",
        Type.NUMBER,
        f"How many transactions the account made in the {_WINDOW_WORDS[_w]} before this one.",
        "account",
        _Feature(f"a_count_{_w}", _count),
    )
    _feature(
        f"sum_{_w}_account",
        Type.NUMBER,
        f"The total amount of the account's transactions in the {_WINDOW_WORDS[_w]} before this one.",
        "account",
        _Feature(f"a_amount_{_w}", _money),
    )
for _w in ("24h", "7d", "30d"):
    _feature(
        f"mean_amount_{_w}_account",
        Type.NUMBER,
        f"The account's average amount in the {_WINDOW_WORDS[_w]} before this one (0 with none).",
        "account",
        _Feature(f"a_mean_amount_{_w}", _money),
    )
_feature(
    "amount_share_24h_account",
    Type.NUMBER,
    "This amount's share of the account's spending over 24 hours, itself included (0 to 1; 1 = nothing else).",
    "account",
    _Feature("a_amount_share_24h", _as_is),
)
_feature(
    "amount_vs_typical_account",
    Type.NUMBER,
    "This amount against the account's typical amount of its last 30 days (its geometric mean): 1 = typical, "
    "5 = five times it; 1 when the account has no history.",
    "account",
    _Feature("a_amount_vs_typical", _ratio),
)
_feature(
    "amount_zscore_account",
    Type.NUMBER,
    "How unusual this amount is for the account (standard deviations of its log-amounts over 30 days, "
    "shrunk for short histories); 0 with no history.",
    "account",
    _Feature("a_amount_z", _as_is),
)
_feature(
    "peak_amount_7d_vs_typical_account",
    Type.NUMBER,
    "The account's largest amount of the last 7 days against its typical amount (1 = typical; 1 with none).",
    "account",
    _Feature("a_peak_amount_7d_vs_typical", _ratio),
)
_feature(
    "seconds_since_previous_account",
    Type.NUMBER,
    "Seconds since the account's previous transaction (2,592,000 = 30 days, also when there was none).",
    "account",
    _Feature("a_secs_since_prev_log", _seconds),
)
_feature(
    "distance_from_usual_km",
    Type.NUMBER,
    "Kilometres from the account's usual place (the mean of its located transactions of 30 days); 0 with no "
    "located history, missing when this transaction has no coordinates.",
    "account",
    _Feature("a_location_shift_km_log", _km),
)
for _what, _engine in (
    ("merchant", "merchant"),
    ("country", "country"),
    ("channel", "channel"),
    ("category", "category"),
):
    _feature(
        f"first_{_what}_for_account",
        Type.BOOLEAN,
        f"True when the account has history in its last 30 days but never with this {_what} in it (false "
        f"for an account's very first transaction, and when this transaction has no {_what}).",
        "account",
        _Feature(f"a_new_{_engine}", _flag),
    )
_feature(
    "billing_shipping_distance_km",
    Type.NUMBER,
    "Kilometres between the billing and the shipping place; 0 when either has no coordinates.",
    "account",
    _Feature("billing_shipping_km_log", _km),
)
_feature(
    "first_shipping_place_for_account",
    Type.BOOLEAN,
    "True when the account has history in its last 30 days but never shipped to this place (its postal code and "
    "country, else its coordinates to about a kilometre); false without a shipping place.",
    "account",
    _Feature("a_new_shipping_place", _flag),
)
_feature(
    "shipping_distance_from_usual_km",
    Type.NUMBER,
    "Kilometres from the shipping place to the account's usual places (the mean of its billing and shipping "
    "points of 30 days); 0 without a shipping point or without such history.",
    "account",
    _Feature("a_shipping_far_km_log", _km),
)
_feature(
    "ip_country_differs_from_billing",
    Type.BOOLEAN,
    "True when the IP address's country and the billing country are both sent and differ.",
    "transaction",
    _Feature("ip_country_mismatch", _flag),
)
_field(
    "first_device_for_account",
    Type.BOOLEAN,
    "True when the account has history in its last 30 days but never with this device in it (false for an "
    "account's very first transaction, and when this transaction has no device).",
    "account",
)
_feature(
    "hour_rarity_account",
    Type.NUMBER,
    "Share (smoothed) of the account's transactions of 30 days made outside this 3-hour slot of the day (UTC "
    "slots 0-3 h, 3-6 h, …): 0 to 1, near 1 = a time of day it never uses; 0 with no history.",
    "account",
    _Feature("a_hour_rarity", _as_is),
)
_feature(
    "known_frauds_30d_account",
    Type.NUMBER,
    "The account's transactions of the last 30 days known to be fraud at this transaction's time.",
    "account",
    _Feature("a_known_frauds_30d", _count),
)

# The merchant's, before this transaction (missing when the transaction names no merchant).
for _w in RULE_MERCHANT_WINDOWS:
    _feature(
        f"count_{_w}_merchant",
        Type.NUMBER,
        f"How many transactions the merchant had in the {_WINDOW_WORDS[_w]} before this one.",
        "merchant",
        _Feature(f"m_count_{_w}", _count, per_merchant=True),
    )
    _feature(
        f"sum_{_w}_merchant",
        Type.NUMBER,
        f"The total amount of the merchant's transactions in the {_WINDOW_WORDS[_w]} before this one.",
        "merchant",
        _Feature(f"m_amount_{_w}", _money, per_merchant=True),
    )
_feature(
    "new_accounts_7d_merchant",
    Type.NUMBER,
    "The merchant's transactions of the last 7 days by an account that had not used it in the 7 days before.",
    "merchant",
    _Feature("m_new_accounts_7d", _count, per_merchant=True),
)
_feature(
    "amount_vs_typical_merchant",
    Type.NUMBER,
    "This amount against the merchant's typical amount of its last 30 days: 1 = typical; 1 with no history.",
    "merchant",
    _Feature("m_amount_vs_typical", _ratio, per_merchant=True),
)
for _w in ("7d", "14d", "30d"):
    _feature(
        f"known_frauds_{_w}_merchant",
        Type.NUMBER,
        f"The merchant's transactions of the last {_WINDOW_WORDS[_w]} known to be fraud at this transaction's time.",
        "merchant",
        _Feature(f"m_known_frauds_{_w}", _count, per_merchant=True),
    )
_feature(
    "known_fraud_rate_30d_merchant",
    Type.NUMBER,
    "Known frauds over the merchant's transactions of 30 days (plus one), 0 to 1.",
    "merchant",
    _Feature("m_known_fraud_rate_30d", _as_is, per_merchant=True),
)
for _w in ("9d", "14d", "30d"):
    _feature(
        f"known_fraud_share_{_w}_merchant",
        Type.NUMBER,
        f"Among the merchant's transactions of {_WINDOW_WORDS[_w]} whose label is known, the share of frauds "
        "(frauds over labelled plus one), 0 to 1.",
        "merchant",
        _Feature(f"m_known_fraud_share_{_w}", _as_is, per_merchant=True),
    )
    _feature(
        f"known_labels_{_w}_merchant",
        Type.NUMBER,
        f"How many of the merchant's transactions of {_WINDOW_WORDS[_w]} have a known label (fraud or not).",
        "merchant",
        _Feature(f"m_known_labels_{_w}", _count, per_merchant=True),
    )

# The model's verdict.
_field("score", Type.NUMBER, "The model's score, 0 to 1 (higher = more suspicious).", "model")
_field(
    "risk_level", Type.STRING, 'The risk level of the score: "low", "medium", "high" or "critical".', "model", "text"
)
_COMPONENT_WORDS = {
    "isolation_forest": "the isolation forest's (unusual combinations)",
    "autoencoder": "the autoencoder's (transactions unlike the usual ones)",
    "tail": "the tail model's (extreme deviations: amount, distance, new country, …)",
    "unsupervised": "the unsupervised detectors' combined",
    "supervised": "the supervised model's (learnt from labels; missing until one is trained)",
}
for _component in COMPONENTS:
    _field(f"score_{_component}", Type.NUMBER, f"Score of {_COMPONENT_WORDS[_component]}, 0 to 1.", "model")


# STORED_FIELDS (detection.scoring.adapters, which reads them from the store): stored fields the engine's frame does
# not carry, read for the scored rows only when a rule reads them.
FIRST_DEVICE = "first_device_for_account"


def stored_rows(names, *, frame, rows: np.ndarray) -> np.ndarray | None:
    """Positions of the frame's rows whose stored fields (``STORED_FIELDS``) the names read: the scored rows, and
    their accounts' rows of the 30 days before them when ``first_device_for_account`` is read; None when no name
    reads a stored field."""
    names = set(names)
    if FIRST_DEVICE in names:
        return _account_history(Frame.of(frame), np.asarray(rows, dtype=np.int64))
    if names.intersection(STORED_FIELDS):
        return np.asarray(rows, dtype=np.int64)
    return None


def _account_history(data: Frame, rows: np.ndarray) -> np.ndarray:
    """The rows and every row of their accounts within the 30 days before the earliest of them."""
    if not len(rows):
        return rows
    ts = data.ts[rows]
    near = (data.ts >= ts.min() - ACCOUNT_LOOKBACK_SECONDS) & (data.ts <= ts.max())
    codes = factorized(data.account_id)
    near &= np.isin(codes, codes[rows])
    near[rows] = True
    return np.flatnonzero(near)


def rule_schema(lists: Mapping[str, str]) -> Schema:
    """What a rule may read: every catalogue name, attributes, and the organisation's lists (name → kind)."""
    return Schema(
        fields={name: f.type for name, f in FIELDS.items()},
        lists=dict(lists),
        kinds={name: f.kind for name, f in FIELDS.items() if f.kind},
    )


def completions(lists: Mapping[str, str]) -> list[dict]:
    """Every name an editor may offer, with its type and what it means."""
    names = [
        {"name": name, "type": str(f.type), "description": f.description, "group": f.group}
        for name, f in FIELDS.items()
    ]
    names.append(
        {
            "name": "attributes.",
            "type": str(Type.ANY),
            "description": "A field the sender added "
            "(attributes.<key>, dotted for nested ones); a row without it, or with another type, never matches.",
            "group": "attributes",
        }
    )
    names += [
        {"name": f"lists.{name}", "type": "list", "description": f"The list {name} ({kind} values).", "group": "lists"}
        for name, kind in sorted(lists.items())
    ]
    names += [
        {"name": f"{name}(", "type": "function", "description": text, "group": "functions"}
        for name, text in FUNCTION_DESCRIPTIONS.items()
    ]
    return names


def rule_columns(
    names,
    *,
    frame,
    rows: np.ndarray,
    output,
    risk_levels: Sequence[str],
    stored: Mapping[str, np.ndarray] | None = None,
    data: Frame | None = None,
) -> dict[str, np.ndarray]:
    """The columns of the named catalogue names (and ``attributes.<key>``) for the scored rows of a frame.

    ``frame``: what was scored (a ``Frame``, or the adapters' dict of columns, whose ``attr_<key>`` columns keep
    text attributes as text); ``rows``: the scored rows' positions in it; ``output``: the ``ScoreOutput`` (its
    ``features`` hold the rows' engine features); ``risk_levels``: one per row; ``stored``: the ``STORED_FIELDS`` the
    frame lacks, one value per frame row ("" for none, and for the rows ``stored_rows`` did not name); ``data``: the
    frame as the engine's ``Frame`` when the caller has it. Numbers come as float arrays (NaN: missing), text as object
    arrays (None: missing), flags as bool arrays.
    """
    reader = _Reader(frame, np.asarray(rows, dtype=np.int64), output, risk_levels, stored or {}, data)
    return {name: reader.column(name) for name in names}


@dataclass
class _Reader:
    frame: object
    rows: np.ndarray
    output: object
    risk_levels: Sequence[str]
    stored: Mapping[str, np.ndarray] = field(default_factory=dict)
    data: Frame | None = None
    _engine: dict[str, np.ndarray] = field(default_factory=dict)
    _model: tuple | None = None  # the model's features: (name → column, the matrix in the order of self.rows)
    _read: dict[str, np.ndarray] = field(default_factory=dict)

    def column(self, name: str) -> np.ndarray:
        if name.startswith(ATTRIBUTES_PREFIX):
            return self.attribute(name[len(ATTRIBUTES_PREFIX) :].split("."))
        if name in _FEATURES:
            return self.feature(_FEATURES[name])
        if name not in FIELDS:
            raise KeyError(f"{name!r} is not in the rules' catalogue")
        if name in ("hour", "weekday"):
            return self.time(name)
        if name == FIRST_DEVICE:
            return self.first_device()
        return self.model_or_field(name)

    # The transaction's fields.
    def raw(self, name: str):
        """The frame's whole column, or None when the frame has none of that name."""
        if isinstance(self.frame, Frame):
            found = self.frame.places.get(name) if name in PLACE_COLUMNS else getattr(self.frame, name, None)
        elif isinstance(self.frame, pd.DataFrame):
            found = self.frame[name].array if name in self.frame.columns else None
        else:
            found = self.frame.get(name)
        return self.stored.get(name) if found is None else found

    def frame_data(self) -> Frame:
        if self.data is None:
            self.data = Frame.of(self.frame)
        return self.data

    def text(self, name: str) -> np.ndarray:
        """Text of the rows, None where missing (the engine's "" for none)."""
        if name not in self._read:
            raw = self.raw(name)
            if raw is None:
                self._read[name] = np.full(len(self.rows), None, dtype=object)
            elif isinstance(raw, pd.Categorical):  # the history cache's text: the rows' categories taken
                codes = raw.codes[self.rows]
                values = raw.categories.take(np.maximum(codes, 0)).to_numpy(dtype=object)
                empty = (codes < 0) | (values == "")
                self._read[name] = np.where(empty, None, values) if empty.any() else values
            else:
                values = np.asarray(raw[self.rows], dtype=object)
                empty = (values == "") | (values == None) | (values != values)  # noqa: E711 - elementwise; NaN
                self._read[name] = np.where(empty, None, values) if empty.any() else values
        return self._read[name]

    def number(self, name: str) -> np.ndarray:
        """Numbers of the rows, NaN where missing."""
        if name not in self._read:
            raw = self.raw(name)
            if raw is None:
                values = np.full(len(self.rows), np.nan)
            else:
                values = np.asarray(raw[self.rows])
                if values.dtype.kind not in "fiub":
                    values = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(np.float64)
            self._read[name] = values.astype(np.float64, copy=False)
        return self._read[name]

    def no_merchant(self) -> np.ndarray:
        if "_no_merchant" not in self._read:
            self._read["_no_merchant"] = self.text("merchant_id") == None  # noqa: E711 - elementwise
        return self._read["_no_merchant"]

    def time(self, name: str) -> np.ndarray:
        ts = np.asarray(self.raw("ts")[self.rows], dtype=np.int64)
        if name == "hour":
            return ((ts % 86400) // 3600).astype(np.float64)
        return ((ts // 86400 + 3) % 7 + 1).astype(np.float64)  # 1970-01-01 was a Thursday (ISO day 4)

    def model_or_field(self, name: str) -> np.ndarray:
        if name == "score":
            return _as_stored(self.output.score)
        if name == "risk_level":
            return np.asarray(list(self.risk_levels), dtype=object)
        if name.startswith("score_"):
            values = self.output.components.get(name[len("score_") :])
            return np.full(len(self.rows), np.nan) if values is None else _as_stored(values)
        if FIELDS[name].type is Type.STRING:
            return self.text(name)
        return self.number(name)

    def attribute(self, path: list[str]) -> np.ndarray:
        """What the rows carry under the key (None where they lack it), nested keys followed."""
        head, rest = path[0], path[1:]
        if isinstance(self.frame, Frame):  # the engine's form keeps numbers only
            values = self.frame.attrs.get(head)
            if values is None or rest:
                return np.full(len(self.rows), None, dtype=object)
            return np.asarray(values, dtype=np.float64)[self.rows]
        raw = self.raw(ATTR_PREFIX + head)
        if raw is None:
            return np.full(len(self.rows), None, dtype=object)
        values = np.asarray(raw[self.rows], dtype=object)
        if values.dtype.kind == "O" and rest:
            values = np.fromiter((_dig(v, rest) for v in values), dtype=object, count=len(values))
        return values

    def first_device(self) -> np.ndarray:
        """The ``a_new_*`` features' rule for the device, over the scored rows' accounts' last 30 days."""
        devices = self.raw("device_id")
        if devices is None or not len(self.rows):
            return np.zeros(len(self.rows), dtype=bool)
        data = self.frame_data()
        near = _account_history(data, self.rows)
        mask = np.zeros(len(near), dtype=bool)
        mask[np.searchsorted(near, self.rows)] = True
        column = np.asarray(devices, dtype=object)[near]
        column = np.where(column == None, "", column)  # noqa: E711 - elementwise
        found = new_for_account(data.take(near), column, target_mask=mask)
        return found[np.argsort(np.argsort(self.rows, kind="stable"), kind="stable")]

    # The engine's features.
    def feature(self, feature: _Feature) -> np.ndarray:
        values = feature.unit(self.engine(feature.engine).astype(np.float64))
        if feature.per_merchant:
            values = np.where(self.no_merchant(), np.nan, values)
        if feature.engine == "a_location_shift_km_log":
            located = np.isfinite(self.number("latitude")) & np.isfinite(self.number("longitude"))
            values = np.where(located, values, np.nan)
        return values

    def engine(self, name: str) -> np.ndarray:
        if self._model is None:
            features = getattr(self.output, "features", None)
            if features is None:
                self._model = ({}, None)
            else:  # the scored rows' features, in the order of self.rows (once: a batch reads many)
                X = features.X if _same(features.rows, self.rows) else self._aligned(features.X, features.rows)
                self._model = ({n: j for j, n in enumerate(features.names)}, X)
        where, X = self._model
        if name in where:
            return X[:, where[name]]
        if name not in self._engine:
            self._engine.update(self._merchant_activity() if name in _MERCHANT_ACTIVITY else self._computed())
        return self._engine[name]

    def _aligned(self, values: np.ndarray, feature_rows: np.ndarray) -> np.ndarray:
        """Values per feature row, in the order of ``self.rows``."""
        if _same(feature_rows, self.rows):
            return values
        order = np.argsort(feature_rows, kind="stable")
        return values[order[np.searchsorted(feature_rows, self.rows, sorter=order)]]

    def _merchant_activity(self) -> dict[str, np.ndarray]:
        """The merchant's activity no model reads (its last hour's count, its totals), for the batch's rows."""
        mask = np.zeros(len(self.frame_data()), dtype=bool)
        mask[self.rows] = True
        rows, values = merchant_activity(self.frame_data(), target_mask=mask)
        return {name: self._aligned(column, rows) for name, column in values.items()}

    def _computed(self) -> dict[str, np.ndarray]:
        """Every catalogue feature for the batch's rows, when the active model's features lack some."""
        data = self.frame_data()
        mask = np.zeros(len(data), dtype=bool)
        mask[self.rows] = True
        matrix = build_features(data, target_mask=mask, spec=_FULL_SPEC)
        return {name: self._aligned(matrix.X[:, j], matrix.rows) for j, name in enumerate(matrix.names)}


def _same(rows: np.ndarray, others: np.ndarray) -> bool:
    return len(rows) == len(others) and np.array_equal(rows, others)


_MERCHANT_ACTIVITY = frozenset({"m_count_1h", *(f"m_amount_{w}" for w in RULE_MERCHANT_WINDOWS)})


def _as_stored(scores) -> np.ndarray:
    """Scores as a score row stores them (6 decimals), so a rule's `score >= 0.9` agrees with the score shown."""
    return np.round(np.asarray(scores, dtype=np.float64), 6)


def _dig(value, keys: list[str]):
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value
