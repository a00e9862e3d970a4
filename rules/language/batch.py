"""A batch's columns as the evaluator reads them: each column's values by type, with a mask of the missing rows.

A batch of one row (``Row``, by ``batch_of``) holds each view as Python values instead, for the single score's path.

Conventions of the columns handed in: numbers are float arrays, NaN where missing; text is an object array, None
where missing; booleans are bool arrays (never missing) or object arrays of True/False/None; an attribute's column
is an object array of whatever the rows carried (None where a row lacks it). Views are worked out once per batch
and shared by every rule evaluated over the same ``Batch``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol

import numpy as np

from rules.language.types import Type

Column = tuple[np.ndarray, np.ndarray | None]  # (values, missing mask or None when nothing is missing)


class Membership(Protocol):
    """A list's values, looked up many at once."""

    def contains(self, values: np.ndarray) -> np.ndarray: ...

    # Optional: ``contains_one(value) -> bool``, one value's answer without an array (a one-row batch asks it).


class Batch(Mapping):
    """Columns by name, remembering each typed view asked of them. Wrap a batch's columns once and evaluate every
    rule over it: each column is then checked for missing rows once, not once per rule."""

    def __init__(
        self,
        columns: Mapping[str, np.ndarray],
        memberships: Mapping[str, Membership] | None = None,
        *,
        size: int | None = None,
    ):
        self.columns = columns
        self.memberships = memberships or {}
        self.size = size if size is not None else _size(columns)
        self.views: dict[tuple[str, str], Column] = {}
        # A list's lookups of a column, shared by the rules that make the same one: (list, id of the values) → (the
        # values, kept so their id stays theirs; the hits).
        self.lookups: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def view(self, name: str, as_type: Type) -> Column:
        key = (name, as_type.value)  # an enum member hashes in Python; its value in C
        found = self.views.get(key)
        if found is None:
            try:
                raw = self.columns[name]
            except KeyError:
                raise KeyError(f"the batch has no column {name!r}, which the expression reads") from None
            views = ATTRIBUTE_VIEWS if name.startswith(ATTRIBUTES_PREFIX) else FIELD_VIEWS
            found = self.views[key] = views[as_type](np.asarray(raw))
        return found

    def looked_up(self, name: str, values: np.ndarray, missing: np.ndarray | None) -> np.ndarray:
        """Which of the values are members of the list `name`, the missing ones never looked up (False): one lookup
        per list and column per batch, however many rules make it (a column's missing rows are its own)."""
        key = (name, id(values))
        found = self.lookups.get(key)
        if found is None:
            membership = self.memberships[name]
            if missing is None:
                hits = np.asarray(membership.contains(values), dtype=bool)
            else:
                hits = np.zeros(len(values), dtype=bool)
                present = ~missing
                hits[present] = membership.contains(values[present])
            found = self.lookups[key] = (values, hits)
        return found[1]

    def member(self, name: str, value) -> bool:
        """Whether one value (a one-row batch's, or a constant) is a member of the list `name`."""
        membership = self.memberships[name]
        contains_one = getattr(membership, "contains_one", None)
        if contains_one is not None:
            return bool(contains_one(value))
        probe = np.empty(1, dtype=object)
        probe[0] = value
        return bool(membership.contains(probe)[0])


class Row(Batch):
    """A batch of one row, read as plain Python values: each view is the row's value (a float, str, bool or the
    attribute's value) and True or None for missing, by the batch's conventions, so every rule's operations work on
    scalars instead of one-element arrays (a few µs each). tests/rules/language holds its answers to the batch's."""

    def view(self, name: str, as_type: Type) -> Column:
        key = (name, as_type.value)
        found = self.views.get(key)
        if found is None:
            try:
                raw = np.asarray(self.columns[name])
            except KeyError:
                raise KeyError(f"the batch has no column {name!r}, which the expression reads") from None
            views = ATTRIBUTE_SCALARS if name.startswith(ATTRIBUTES_PREFIX) else FIELD_SCALARS
            found = self.views[key] = views[as_type](raw.dtype.kind, raw[0])
        return found


def batch_of(
    columns: Mapping[str, np.ndarray], memberships: Mapping[str, Membership] | None = None, *, size: int | None = None
) -> Batch:
    """The columns as a ``Batch``, or as a ``Row`` when they hold one row (a single score's path)."""
    size = size if size is not None else _size(columns)
    return (Row if size == 1 else Batch)(columns, memberships, size=size)


def scalar(value):
    """A numpy scalar as the Python value it holds (an object array's values are Python's already)."""
    return value.item() if isinstance(value, np.generic) else value


def _size(columns: Mapping[str, np.ndarray]) -> int:
    for values in columns.values():
        return len(values)
    raise ValueError("an expression that reads no column needs the batch's size")


def _mask(missing: np.ndarray) -> np.ndarray | None:
    return missing if missing.any() else None


def _numbers(raw: np.ndarray) -> Column:
    if raw.dtype.kind == "b":
        return raw.astype(np.float64), None  # a flag read as a number: 1 or 0
    if raw.dtype.kind in "fiu":
        values = raw.astype(np.float64, copy=False)
        return values, _mask(np.isnan(values))
    values = np.fromiter((_number(v) for v in raw), dtype=np.float64, count=len(raw))
    return values, _mask(np.isnan(values))


def _number(value) -> float:
    kind = type(value)
    if kind is float or kind is int or isinstance(value, np.number) and not isinstance(value, np.bool_):
        return float(value)
    return np.nan


def _strings(raw: np.ndarray) -> Column:
    if raw.dtype.kind in "US":
        return raw.astype(object), None
    if raw.dtype.kind != "O":
        return np.full(len(raw), None, dtype=object), np.ones(len(raw), dtype=bool)
    is_text = np.fromiter((type(v) is str for v in raw), dtype=bool, count=len(raw))
    if is_text.all():
        return raw, None
    return np.where(is_text, raw, None), ~is_text


def _field_strings(raw: np.ndarray) -> Column:
    """A catalogue field's text: str or None (or NaN) by the columns' convention, so not checked value by value."""
    if raw.dtype.kind != "O":
        return _strings(raw)
    missing = (raw == None) | (raw != raw)  # noqa: E711 - elementwise; NaN is the one value unequal to itself
    if not missing.any():
        return raw, None
    return np.where(missing, None, raw), missing


def _booleans(raw: np.ndarray) -> Column:
    if raw.dtype.kind == "b":
        return raw, None
    if raw.dtype.kind == "f":
        missing = np.isnan(raw)
        return (raw == 1.0) & ~missing, _mask(missing)
    if raw.dtype.kind != "O":
        return np.zeros(len(raw), dtype=bool), np.ones(len(raw), dtype=bool)
    is_flag = np.fromiter((type(v) is bool or type(v) is np.bool_ for v in raw), dtype=bool, count=len(raw))
    values = np.fromiter((v is True or v is np.True_ for v in raw), dtype=bool, count=len(raw))
    return values, _mask(~is_flag)


def _anything(raw: np.ndarray) -> Column:
    if raw.dtype.kind == "f":
        return raw, _mask(np.isnan(raw))
    if raw.dtype.kind != "O":
        return raw, None
    return raw, _mask(np.fromiter((v is None for v in raw), dtype=bool, count=len(raw)))


# An attribute's values may be of any type: each is checked. A field's are of its type by the columns' convention.
ATTRIBUTE_VIEWS = {Type.NUMBER: _numbers, Type.STRING: _strings, Type.BOOLEAN: _booleans, Type.ANY: _anything}
FIELD_VIEWS = {**ATTRIBUTE_VIEWS, Type.STRING: _field_strings}
ATTRIBUTES_PREFIX = "attributes."


# The same views of a one-row batch's value (``Row``): (kind of the column's dtype, the value) → (value, missing),
# missing True or None.
def _number_scalar(kind: str, value) -> tuple:
    if kind == "b":
        return float(value), None
    number = float(value) if kind in "fiu" else _number(value)
    return number, (True if number != number else None)


def _string_scalar(kind: str, value) -> tuple:
    if kind in "US":
        return str(value), None
    if kind != "O" or type(value) is not str:
        return None, True
    return value, None


def _field_string_scalar(kind: str, value) -> tuple:
    if kind != "O":
        return _string_scalar(kind, value)
    if value is None or value != value:
        return None, True
    return value, None


def _boolean_scalar(kind: str, value) -> tuple:
    if kind == "b":
        return bool(value), None
    if kind == "f":
        return (False, True) if value != value else (bool(value == 1.0), None)
    if kind != "O":
        return False, True
    is_flag = type(value) is bool or type(value) is np.bool_
    return (value is True or value is np.True_), (None if is_flag else True)


def _anything_scalar(kind: str, value) -> tuple:
    if kind == "f":
        value = float(value)
        return value, (True if value != value else None)
    if kind != "O":
        return value.item(), None
    return value, (True if value is None else None)


ATTRIBUTE_SCALARS = {
    Type.NUMBER: _number_scalar,
    Type.STRING: _string_scalar,
    Type.BOOLEAN: _boolean_scalar,
    Type.ANY: _anything_scalar,
}
FIELD_SCALARS = {**ATTRIBUTE_SCALARS, Type.STRING: _field_string_scalar}
