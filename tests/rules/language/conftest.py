import numpy as np
import pytest

from rules.language import Schema, Type, compile_expression

SCHEMA = Schema(
    fields={
        "amount": Type.NUMBER,
        "score": Type.NUMBER,
        "count_24h_account": Type.NUMBER,
        "channel": Type.STRING,
        "country": Type.STRING,
        "merchant_id": Type.STRING,
        "account_id": Type.STRING,
        "first_country_for_account": Type.BOOLEAN,
        "first_merchant_for_account": Type.BOOLEAN,
    },
    lists={"blocked_merchants": "merchant", "bad_countries": "country", "words": "text", "vip": "account"},
    kinds={"merchant_id": "merchant", "country": "country", "account_id": "account", "channel": "text"},
)


class FakeMembership:
    """A list's values in a set; records what it was asked, to show missing values are never looked up."""

    def __init__(self, values):
        self.values = frozenset(values)
        self.asked: list[list] = []

    def contains(self, values: np.ndarray) -> np.ndarray:
        self.asked.append(list(values))
        return np.fromiter((v in self.values for v in values), dtype=bool, count=len(values))


class FakeScalarMembership(FakeMembership):
    """The same, also answering one value at a time as the lists' Membership does (a one-row batch asks so)."""

    def contains_one(self, value) -> bool:
        self.asked.append([value])
        return value in self.values


def run(text: str, memberships=None, **columns):
    """Compile against SCHEMA and evaluate over the given columns (lists given as Python lists)."""
    arrays = {name.replace("__", "."): _array(values) for name, values in columns.items()}
    return compile_expression(text, SCHEMA).evaluate(arrays, memberships or {})


def _array(values):
    if all(isinstance(v, bool) for v in values):
        return np.array(values, dtype=bool)
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return np.array(values, dtype=np.float64)
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


@pytest.fixture
def schema() -> Schema:
    return SCHEMA
