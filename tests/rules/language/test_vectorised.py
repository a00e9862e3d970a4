"""Random expressions over random rows: the vectorised evaluation equals a plain row-by-row interpreter, and one-row
batches give each row's answer the whole batch gives."""

import math
import random
import re

import numpy as np
import pytest

from rules.language import Row, batch_of, compile_expression
from tests.rules.language.conftest import SCHEMA, FakeMembership, FakeScalarMembership

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
            op = rng.choice(["=~", "!~"])
            found = _strict1(fa, lambda v: (re.search(pattern, v) is not None) == (op == "=~"))
            return f'({a} {op} "{pattern}")', found
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


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("membership", [FakeMembership, FakeScalarMembership])
def test_one_row_batches_give_each_row_the_batch_answer(seed, membership):
    """A one-row batch is evaluated on plain Python values (a Row), every operation by its scalar branch."""
    rng = random.Random(100 + seed)
    rows = _rows(rng)
    columns = _columns(rows)
    memberships = {"blocked_merchants": membership(BLOCKED)}
    generator = Generator(rng)
    for _ in range(30):
        text, _ = generator.boolean(depth=4)
        compiled = compile_expression(text, SCHEMA)
        whole = compiled.evaluate(columns, memberships)
        for i in range(ROWS):
            one = batch_of({name: values[i : i + 1] for name, values in columns.items()}, memberships)
            assert isinstance(one, Row)
            answer = compiled.evaluate(one)
            assert (answer.matched[0], answer.missing[0]) == (whole.matched[i], whole.missing[i]), (text, rows[i])


def test_a_one_row_batch_never_looks_a_missing_value_up():
    membership = FakeScalarMembership(BLOCKED)
    compiled = compile_expression("merchant_id not in lists.blocked_merchants", SCHEMA)
    one = batch_of({"merchant_id": _columns([{"merchant_id": None}])["merchant_id"]}, {"blocked_merchants": membership})

    answer = compiled.evaluate(one)

    assert (answer.matched.tolist(), answer.missing.tolist()) == ([False], [True])
    assert membership.asked == []


def _object_column(values: list) -> np.ndarray:
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


# An attribute's column holds whatever the rows carried; a field's, its type by the columns' convention (the
# numbers float, NaN where missing; text str or None or NaN; flags bool, or True/False/None).
COLUMNS_OF_EVERY_DTYPE = [
    np.array(["a", "b", ""]),
    np.array([1, 2, 0]),
    np.array([1.0, np.nan, 2.5]),
    np.array([True, False, True]),
    _object_column([None, "a", 3]),
    _object_column([True, np.True_, np.nan]),
    _object_column([2.0, {"k": 1}, np.int64(4)]),
]
FIELD_COLUMNS = {
    "amount": [np.array([1.0, np.nan, 2.5]), np.array([3, 0, 1]), np.array([True, False, True])],
    "channel": [np.array(["a", "b", ""]), _object_column(["a", None, np.nan]), _object_column(["ab", "b", "a"])],
    "first_country_for_account": [np.array([True, False, True]), _object_column([True, None, False])],
}
FIELD_EXPRESSIONS = {
    "amount": ["amount > 1", "amount == null"],
    "channel": ['channel == "a"', "channel != null", 'channel =~ "^a"', 'channel !~ "^a"'],
    "first_country_for_account": ["first_country_for_account", "first_country_for_account == null"],
}
ATTRIBUTE_EXPRESSIONS = [
    "attributes.x > 1",
    'attributes.x == "a"',
    "attributes.x",
    "attributes.x == null",
    'attributes.x !~ "^a"',
    "attributes.x in [1, 2]",
]


def _same_answers(text: str, name: str, column: np.ndarray) -> None:
    compiled = compile_expression(text, SCHEMA)
    whole = compiled.evaluate({name: column})
    for i in range(len(column)):
        one = compiled.evaluate({name: column[i : i + 1]})
        assert (one.matched[0], one.missing[0]) == (whole.matched[i], whole.missing[i]), (text, column[i])


@pytest.mark.parametrize("column", COLUMNS_OF_EVERY_DTYPE, ids=lambda c: f"{c.dtype}-{c[0]!r}")
def test_one_row_batches_read_an_attribute_of_any_dtype_as_the_batch_does(column):
    for text in ATTRIBUTE_EXPRESSIONS:
        _same_answers(text, "attributes.x", column)


@pytest.mark.parametrize("name", FIELD_COLUMNS)
def test_one_row_batches_read_a_fields_columns_as_the_batch_does(name):
    for column in FIELD_COLUMNS[name]:
        for text in FIELD_EXPRESSIONS[name]:
            _same_answers(text, name, column)
