"""Whatever is typed in the editor, compiling it either succeeds or raises ExpressionError with a position inside
the text: never another exception (which would answer 500)."""

import random

import numpy as np
import pytest

from rules.language import ExpressionError, compile_expression
from tests.rules.language.conftest import SCHEMA, FakeMembership

PIECES = [
    "amount", "channel", "country", "merchant_id", "first_country_for_account", "attributes", "attributes.x", "lists",
    "lists.blocked_merchants", "lists.nope", "lower", "abs", "and", "or", "not", "in", "true", "false", "null",
    "==", "!=", "<", "<=", ">", ">=", "=~", "!~", "+", "-", "*", "/", "%", "(", ")", "[", "]", ",", ".", "=",
    "'a'", '"b"', '"(a+)+"', "'['", "1", "2.5", "1e3", "1_", '"', "'", "\\", "é", "#", " ", "  ", "\t", "\n",
]  # fmt: skip


@pytest.mark.parametrize("seed", range(5))
def test_random_text_compiles_or_is_refused_with_a_position(seed):
    rng = random.Random(seed)
    for _ in range(400):
        text = "".join(rng.choice(PIECES) + rng.choice(["", " "]) for _ in range(rng.randint(1, 12)))
        try:
            compile_expression(text, SCHEMA)
        except ExpressionError as error:
            assert 0 <= error.position <= len(text), (text, error)
            assert error.reason, text


def _batch():
    mixed = np.empty(6, dtype=object)
    mixed[:] = [None, 1, "a", True, {"k": [1]}, [1, 2]]
    return {
        "amount": np.array([0.0, -1.0, np.nan, 1e308, 5.0, 2.5]),
        "score": np.array([0.0, 1.0, np.nan, 0.5, 0.9, 0.1]),
        "channel": np.array(["online", None, "atm", "", "x", "ONLINE"], dtype=object),
        "country": np.array([None, "FR", "DE", "FR", None, "US"], dtype=object),
        "merchant_id": np.array(["m1", "m2", None, "m1", "", "m3"], dtype=object),
        "first_country_for_account": np.array([True, False, True, False, True, False]),
        "attributes.x": mixed,
    }


VALUES = [
    "amount", "score", "channel", "country", "merchant_id", "first_country_for_account", "attributes.x", "1", "0",
    "-2.5", "'a'", '"FR"', "true", "null", "lower(attributes.x)", "abs(attributes.x)", "length(channel)",
    "(amount / attributes.x)", "(attributes.x % 0)", "(score * 1e308 * 10)",
]  # fmt: skip
OPERATORS = ["==", "!=", "<", ">=", "+", "-", "*", "/", "in", "not in", "=~", "and", "or"]
PATTERNS = ["'^a'", "'[0-9]'"]
RIGHT_OF_IN = ["['a', 'FR']", "[1, 2]", "[true]", "lists.blocked_merchants", "lists.words", "lists.bad_countries"]


def _random_expression(rng: random.Random, depth: int = 3) -> str:
    if depth == 0 or rng.random() < 0.3:
        return rng.choice(VALUES)
    op = rng.choice(OPERATORS)
    left = _random_expression(rng, depth - 1)
    if op in ("in", "not in"):
        return f"({left} {op} {rng.choice(RIGHT_OF_IN)})"
    if op == "=~":
        pattern = rng.choice(PATTERNS)
        return f"({left} =~ {pattern})"
    prefix = "not " if rng.random() < 0.1 else ""
    return f"{prefix}({left} {op} {_random_expression(rng, depth - 1)})"


@pytest.mark.parametrize("seed", range(3))
def test_what_compiles_evaluates_over_any_values_without_failing(seed):
    rng = random.Random(1000 + seed)
    columns = _batch()
    memberships = {name: FakeMembership({"m1", "FR", "a"}) for name in SCHEMA.lists}
    evaluated = 0
    for _ in range(4000):
        text = _random_expression(rng)
        try:
            compiled = compile_expression(text, SCHEMA)
        except ExpressionError:
            continue
        result = compiled.evaluate({name: columns[name] for name in compiled.fields}, memberships, size=6)
        assert result.matched.shape == result.missing.shape == (6,), text
        assert not (result.matched & result.missing).any(), text
        evaluated += 1
    assert evaluated > 150
