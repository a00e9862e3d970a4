"""Random expressions over random rows: the vectorised evaluation equals a plain row-by-row interpreter, and one-row
batches give each row's answer the whole batch gives."""

import math
import random
import re

import numpy as np
import pytest

from rules.language import compile_expression
from tests.rules.language.conftest import SCHEMA, FakeMembership

MISSING = object()
ROWS = 60
BLOCKED = {"m1", "m3"}


def _rows(rng: random.Random) -> list[dict]:
    def maybe(value, share=0.15):
        return None if rng.random() < share else value

    return [
        {
            "amount": maybe(rng.choice([0.0, 1.0, 2.5, 10.0, 99.0, 500.0, -3.0])),
            "score": maybe(rng.random()),
            "channel": maybe(rng.choice(["online", "atm", "Online"])),
            "merchant_id": maybe(rng.choice(["m1", "m2", "m3", "shop-9"])),
            "first_country_for_account": rng.random() < 0.5,
            "attributes.x": rng.choice([None, 3, 7.5, "a", "B", True, False, {"k": 1}]),
        }
        for _ in range(ROWS)
    ]


def _columns(rows: list[dict]) -> dict[str, np.ndarray]:
    columns = {}
    for name in rows[0]:
        values = [row[name] for row in rows]
        if name in ("amount", "score"):
            columns[name] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        elif name == "first_country_for_account":
            columns[name] = np.array(values, dtype=bool)
        else:
            columns[name] = np.empty(len(values), dtype=object)
            columns[name][:] = values
    return columns


def _typed(value, kind):
    """An attribute's value as a type, or MISSING (a flag is not a number)."""
    if value is None or value is MISSING:
        return MISSING
    if kind == "number":
        return float(value) if type(value) in (int, float) else MISSING
    if kind == "string":
        return value if type(value) is str else MISSING
    return value if type(value) is bool else MISSING


class Generator:
    """Each node: (text, f(row) -> value or MISSING)."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def boolean(self, depth: int):
        rng = self.rng
        choices = ["compare", "strings", "flag", "null", "in_array", "in_list", "regex", "attribute"]
        if depth > 0:
            choices += ["and", "or", "not"] * 2
        kind = rng.choice(choices)
        if kind == "compare":
            (a, fa), (b, fb) = self.number(depth - 1), self.number(depth - 1)
            op = rng.choice(["==", "!=", "<", "<=", ">", ">="])
            fa, fb = _raw_if_both_attributes(a, b, op, fa, fb)
            return f"({a} {op} {b})", _strict2(fa, fb, _PY_OPS[op])
        if kind == "strings":
            (a, fa), (b, fb) = self.string(depth - 1), self.string(depth - 1)
            op = rng.choice(["==", "!="])
            fa, fb = _raw_if_both_attributes(a, b, op, fa, fb)
            return f"({a} {op} {b})", _strict2(fa, fb, _PY_OPS[op])
        if kind == "flag":
            return "first_country_for_account", lambda row: row["first_country_for_account"]
        if kind == "null":
            (a, fa), op = rng.choice([self.number(depth - 1), self.string(depth - 1)]), rng.choice(["==", "!="])
            if a == "attributes.x":  # an attribute alone is null only where the row lacks it, whatever its type
                fa = _raw
            return f"({a} {op} null)", lambda row: (fa(row) is MISSING) == (op == "==")
        if kind == "in_array":
            negate = rng.random() < 0.5
            word = "not in" if negate else "in"
            if rng.random() < 0.5:
                a, fa = self.string(depth - 1)
                items = rng.sample(["online", "atm", "a", "m1", "B"], 2)
                text = ", ".join(f'"{i}"' for i in items)
            else:
                a, fa = self.number(depth - 1)
                items = rng.sample([0.0, 1.0, 2.5, 10.0, 500.0, 7.5], 3)
                text = ", ".join(repr(i) for i in items)
            return f"({a} {word} [{text}])", _strict1(fa, lambda v: (v in items) != negate)
        if kind == "in_list":
            negate = rng.random() < 0.5
            word = "not in" if negate else "in"
            return f"(merchant_id {word} lists.blocked_merchants)", _strict1(
                lambda row: _typed(row["merchant_id"], "string"), lambda v: (v in BLOCKED) != negate
            )
        if kind == "regex":
            a, fa = self.string(depth - 1)
            pattern = rng.choice(["^m", "n", "[0-9]$", "^(atm|a)$"])
            return f'({a} =~ "{pattern}")', _strict1(fa, lambda v: re.search(pattern, v) is not None)
        if kind == "attribute":
            return "attributes.x", lambda row: _typed(row["attributes.x"], "boolean")
        (a, fa), (b, fb) = self.boolean(depth - 1), self.boolean(depth - 1)
        if kind == "not":
            return f"(not {a})", lambda row: MISSING if fa(row) is MISSING else not fa(row)
        return f"({a} {kind} {b})", (lambda row: _and(fa(row), fb(row))) if kind == "and" else (
            lambda row: _or(fa(row), fb(row))
        )

    def number(self, depth: int):
        rng = self.rng
        choices = ["literal", "amount", "score", "attribute"]
        if depth > 0:
            choices += ["+", "-", "*", "/", "%", "neg", "abs", "length"]
        kind = rng.choice(choices)
        if kind == "literal":
            value = rng.choice([0, 1, 2.5, 10, 100])
            return repr(value), lambda row: float(value)
        if kind in ("amount", "score"):
            return kind, lambda row: MISSING if row[kind] is None else row[kind]
        if kind == "attribute":
            return "attributes.x", lambda row: _typed(row["attributes.x"], "number")
        if kind == "neg":
            a, fa = self.number(depth - 1)
            return f"(-{a})", _strict1(fa, lambda v: -v)
        if kind == "abs":
            a, fa = self.number(depth - 1)
            return f"abs({a})", _strict1(fa, abs)
        if kind == "length":
            a, fa = self.string(depth - 1)
            return f"length({a})", _strict1(fa, lambda v: float(len(v)))
        (a, fa), (b, fb) = self.number(depth - 1), self.number(depth - 1)
        return f"({a} {kind} {b})", _strict2(fa, fb, _PY_ARITHMETIC[kind])

    def string(self, depth: int):
        rng = self.rng
        choices = ["literal", "channel", "merchant_id", "attribute"] + (["lower", "upper"] if depth > 0 else [])
        kind = rng.choice(choices)
        if kind == "literal":
            value = rng.choice(["online", "atm", "a", "m1"])
            return f"'{value}'", lambda row: value
        if kind in ("channel", "merchant_id"):
            return kind, lambda row: MISSING if row[kind] is None else row[kind]
        if kind == "attribute":
            return "attributes.x", lambda row: _typed(row["attributes.x"], "string")
        a, fa = self.string(depth - 1)
        return f"{kind}({a})", _strict1(fa, str.lower if kind == "lower" else str.upper)


def _raw(row):
    return MISSING if row["attributes.x"] is None else row["attributes.x"]


def _raw_if_both_attributes(a, b, op, fa, fb):
    """Two attributes compared for equality compare as they are (1 == 1.0, "a" != 3), whatever their types."""
    if a == b == "attributes.x" and op in ("==", "!="):
        return _raw, _raw
    return fa, fb


def _strict1(f, op):
    def run(row):
        v = f(row)
        return MISSING if v is MISSING else op(v)

    return run


def _strict2(fa, fb, op):
    def run(row):
        a, b = fa(row), fb(row)
        return MISSING if a is MISSING or b is MISSING else op(a, b)

    return run


def _divide(a, b):
    if b == 0:
        return MISSING
    return a / b


def _modulo(a, b):
    if b == 0:
        return MISSING
    value = float(np.mod(a, b))
    return value if math.isfinite(value) else MISSING


_PY_OPS = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_PY_ARITHMETIC = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _divide,
    "%": _modulo,
}


def _and(a, b):
    if a is False or b is False:
        return False
    return MISSING if MISSING in (a, b) else True


def _or(a, b):
    if a is True or b is True:
        return True
    return MISSING if MISSING in (a, b) else False


@pytest.mark.parametrize("seed", range(12))
def test_vectorised_equals_a_row_by_row_interpreter(seed):
    rng = random.Random(seed)
    rows = _rows(rng)
    columns = _columns(rows)
    memberships = {"blocked_merchants": FakeMembership(BLOCKED)}
    generator = Generator(rng)
    for _ in range(40):
        text, reference = generator.boolean(depth=4)
        compiled = compile_expression(text, SCHEMA)
        result = compiled.evaluate({name: columns[name] for name in compiled.fields}, memberships, size=ROWS)
        expected = [reference(row) for row in rows]
        assert result.matched.tolist() == [value is True for value in expected], text
        assert result.missing.tolist() == [value is MISSING for value in expected], text


@pytest.mark.parametrize("seed", range(3))
def test_one_row_batches_give_each_row_the_batch_answer(seed):
    rng = random.Random(100 + seed)
    rows = _rows(rng)
    columns = _columns(rows)
    memberships = {"blocked_merchants": FakeMembership(BLOCKED)}
    generator = Generator(rng)
    for _ in range(20):
        text, _ = generator.boolean(depth=3)
        compiled = compile_expression(text, SCHEMA)
        whole = compiled.evaluate(columns, memberships)
        for i in range(ROWS):
            one = compiled.evaluate({name: values[i : i + 1] for name, values in columns.items()}, memberships)
            assert (one.matched[0], one.missing[0]) == (whole.matched[i], whole.missing[i]), (text, rows[i])
