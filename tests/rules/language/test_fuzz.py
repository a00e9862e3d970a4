"""Whatever is typed in the editor, compiling it either succeeds or raises ExpressionError with a position inside
the text: never another exception (which would answer 500)."""

import random

import pytest

from rules.language import ExpressionError, compile_expression
from tests.rules.language.conftest import SCHEMA

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
