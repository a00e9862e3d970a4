"""The engine's input: one table of transactions, as a pandas DataFrame or a dict of numpy arrays.

Columns: ``row_id`` int64, unique, breaks ties in time; ``ts`` int64 seconds since the epoch, UTC; ``account_id``,
``merchant_id`` str (``""`` = none); ``amount`` float64. Optional: ``channel`` (online|in_person|atm|other),
``country``, ``merchant_category``, ``latitude``, ``longitude``, ``location_distance_km`` (NaN = missing),
``attr_<name>`` (partner fields; numbers become features), ``label`` (1 fraud, 0 legitimate, NaN unknown),
``label_known_ts`` (seconds; NaN = not known yet). Card-not-present places, also optional and kept only when given
(most senders give none, and their frames carry nothing for them): ``billing_latitude``, ``billing_longitude``,
``shipping_latitude``, ``shipping_longitude`` (NaN = missing), ``billing_postal_code``, ``billing_country``,
``shipping_postal_code``, ``shipping_country``, ``ip_country`` (``""`` = none). ``Frame.of`` turns either form into
numpy arrays once. A text column may come as a ``pandas.Categorical`` of str, kept so: the features only group and
compare text, which its codes do without hashing the history's text again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

CHANNELS = ("online", "in_person", "atm", "other")
_TEXT = ("account_id", "merchant_id", "channel", "country", "merchant_category")
_FLOAT = ("latitude", "longitude", "location_distance_km", "label", "label_known_ts")
ATTR_PREFIX = "attr_"
PLACE_FLOAT = ("billing_latitude", "billing_longitude", "shipping_latitude", "shipping_longitude")
PLACE_TEXT = ("billing_postal_code", "billing_country", "shipping_postal_code", "shipping_country", "ip_country")
PLACE_COLUMNS = (*PLACE_FLOAT, *PLACE_TEXT)


@dataclass
class Frame:
    row_id: np.ndarray
    ts: np.ndarray
    account_id: np.ndarray
    merchant_id: np.ndarray
    amount: np.ndarray
    channel: np.ndarray
    country: np.ndarray
    merchant_category: np.ndarray
    latitude: np.ndarray
    longitude: np.ndarray
    location_distance_km: np.ndarray
    label: np.ndarray
    label_known_ts: np.ndarray
    attrs: dict[str, np.ndarray] = field(default_factory=dict)
    places: dict[str, np.ndarray] = field(default_factory=dict)  # PLACE_COLUMNS given with at least one value

    def __len__(self) -> int:
        return len(self.row_id)

    def place(self, name: str) -> np.ndarray:
        """A card-not-present column (PLACE_COLUMNS): as given, or all missing (NaN, "") when not."""
        if name in self.places:
            return self.places[name]
        return np.full(len(self), np.nan) if name in PLACE_FLOAT else np.full(len(self), "", dtype=object)

    @classmethod
    def of(cls, data: pd.DataFrame | dict | Frame) -> Frame:
        if isinstance(data, Frame):
            return data
        columns = _columns(data)
        n = len(columns["row_id"])
        values = {
            "row_id": np.asarray(columns["row_id"], dtype=np.int64),
            "ts": np.asarray(columns["ts"], dtype=np.int64),
            "amount": np.asarray(columns["amount"], dtype=np.float64),
        }
        for name in _TEXT:
            values[name] = _text(columns.get(name), n)
        for name in _FLOAT:
            values[name] = _floats(columns.get(name), n)
        attrs = {k[len(ATTR_PREFIX) :]: _numeric(v) for k, v in columns.items() if k.startswith(ATTR_PREFIX)}
        return cls(**values, attrs=attrs, places=_places(columns, n))

    def take(self, index: np.ndarray) -> Frame:
        picked = {name: getattr(self, name)[index] for name in self.__dataclass_fields__ if name not in _DICTS}
        return Frame(
            **picked,
            attrs={k: v[index] for k, v in self.attrs.items()},
            places={k: v[index] for k, v in self.places.items()},
        )

    def with_labels(self, label: np.ndarray, label_known_ts: np.ndarray) -> Frame:
        copy = Frame(**{name: getattr(self, name) for name in self.__dataclass_fields__})
        copy.label, copy.label_known_ts = label, label_known_ts
        return copy


_DICTS = ("attrs", "places")


def _places(columns: dict, n: int) -> dict[str, np.ndarray]:
    """The card-not-present columns given with at least one value: a column of none is left out (as not given)."""
    places = {}
    for name in PLACE_FLOAT:
        if columns.get(name) is not None:
            values = _floats(columns[name], n)
            if np.isfinite(values).any():
                places[name] = values
    for name in PLACE_TEXT:
        if columns.get(name) is not None:
            values = _text(columns[name], n)
            if (np.asarray(values, dtype=object) != "").any():
                places[name] = values
    return places


def _columns(data) -> dict:
    if isinstance(data, pd.DataFrame):
        return {name: _column(data[name]) for name in data.columns}
    return dict(data)


def _column(series: pd.Series):
    return series.array if isinstance(series.dtype, pd.CategoricalDtype) else series.to_numpy()


def _text(values, n: int) -> np.ndarray | pd.Categorical:
    if values is None:
        return np.full(n, "", dtype=object)
    if isinstance(values, pd.Categorical) and not (values.codes < 0).any():
        return values
    array = np.asarray(values, dtype=object)
    # A missing value (None, NaN; a categorical's -1 code) anywhere in the column is "" (none), as the database's
    # NOT NULL text columns and the file readers give it: every row looked at, since one found past the first few
    # would otherwise group as a value.
    missing = pd.isna(array)
    if missing.any():
        array = np.where(missing, "", array)
    return array


def _floats(values, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, np.nan)
    return np.asarray(values, dtype=np.float64) if _is_numeric(values) else _numeric(values)


def _is_numeric(values) -> bool:
    return np.asarray(values).dtype.kind in "fiub"


def _numeric(values) -> np.ndarray:
    """Numbers as float64; anything that is not a number (text, None) becomes NaN."""
    array = np.asarray(values)
    if array.dtype.kind in "fiub":
        return array.astype(np.float64)
    return pd.to_numeric(pd.Series(array, dtype=object), errors="coerce").to_numpy(dtype=np.float64)
