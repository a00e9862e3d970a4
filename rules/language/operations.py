"""The evaluator's vectorised operations: each takes and gives ``(values, missing)`` pairs over a batch's rows.

``values`` is a numpy array (or a scalar, for constants); ``missing`` a boolean mask of the rows whose value is
unknown, or None when none is. Where a row is missing, a condition's value is False. A batch of one row
(``batch.Row``) gives every operation scalars: a value, and True or None for missing; each scalar branch answers as
the array branch does for that row.
"""

from __future__ import annotations

import numpy as np

from rules.language.batch import Batch
from rules.language.types import Type


def mask(missing: np.ndarray) -> np.ndarray | None:
    return missing if missing.any() else None


def either(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a | b


def masked(values, missing):
    return values if missing is None else values & ~missing


def compared(compare, a, missing_a, b, missing_b):
    values = compare(a, b)
    missing = either(missing_a, missing_b)
    if not isinstance(values, np.ndarray):
        return bool(values) and not missing, missing
    return masked(values, missing), missing


def negate(values, missing):
    return -values, missing


def logical_not(values, missing):
    if not isinstance(values, np.ndarray):
        return not values and not missing, missing
    return masked(~values, missing), missing


def logical_and(a, missing_a, b, missing_b):
    values = a & b
    if missing_a is None and missing_b is None:
        return values, None
    # Missing unless the other side is known to be false.
    missing = None
    if missing_a is not None:
        missing = missing_a & (b | missing_b if missing_b is not None else b)
    if missing_b is not None:
        missing = either(missing, missing_b & a)
    return values, mask_of(missing)


def logical_or(a, missing_a, b, missing_b):
    values = a | b
    missing = either(missing_a, missing_b)
    if missing is None:
        return values, None
    if not isinstance(values, np.ndarray):
        return values, (bool(missing) and not values) or None
    return values, mask_of(missing & ~values)


def mask_of(missing):
    if isinstance(missing, np.ndarray):
        return missing if missing.any() else None
    return missing or None


def contains_numbers(items: np.ndarray):
    return lambda values: np.isin(values, items)


def contains_objects(items: list):
    if len(items) == 1:
        item = items[0]
        return lambda values: values == item
    members = frozenset(items)
    return lambda values: np.fromiter(map(members.__contains__, values), dtype=bool, count=len(values))


def contains_one(items: list):
    """An array's membership test of one value (a number, string or flag, as the array's items)."""
    members = frozenset(items)
    return members.__contains__


def looked_up(contains, contains_scalar, negate, values, missing):
    if not isinstance(values, np.ndarray):
        if missing:
            return False, missing
        return bool(contains_scalar(values)) != negate, missing
    hits = contains(values)
    return masked(~hits if negate else hits, missing), missing


def in_membership(batch: Batch, name: str, negate: bool, values, missing):
    if not isinstance(values, np.ndarray):  # one row (or a constant): a missing value is never looked up
        if missing:
            return False, missing
        return batch.member(name, values) != negate, None
    hits = batch.looked_up(name, values, missing)
    return masked(~hits if negate else hits, missing), missing


def _lower(values, missing):
    return _text_map(str.lower, values, missing), missing


def _upper(values, missing):
    return _text_map(str.upper, values, missing), missing


def _text_map(function, values, missing):
    if not isinstance(values, np.ndarray):
        return None if values is None else function(values)
    out = np.empty(len(values), dtype=object)
    out[:] = [None if v is None else function(v) for v in values]
    return out


def _length(values, missing):
    if not isinstance(values, np.ndarray):
        return (0.0 if values is None else float(len(values))), missing
    return np.fromiter((0 if v is None else len(v) for v in values), np.float64, len(values)), missing


def _abs(values, missing):
    if not isinstance(values, np.ndarray):
        return abs(values), missing
    return np.abs(values), missing


# name → (argument type, result type, implementation)
FUNCTIONS = {
    "lower": (Type.STRING, Type.STRING, _lower),
    "upper": (Type.STRING, Type.STRING, _upper),
    "length": (Type.STRING, Type.NUMBER, _length),
    "abs": (Type.NUMBER, Type.NUMBER, _abs),
}
FUNCTION_DESCRIPTIONS = {
    "lower": "lower(text): the text in lower case",
    "upper": "upper(text): the text in upper case",
    "length": "length(text): how many characters the text has",
    "abs": "abs(number): the number without its sign",
}
