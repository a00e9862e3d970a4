import pytest

from rules.language import ExpressionError
from rules.language.lexer import tokenize


def kinds(text):
    return [(t.kind, t.value) for t in tokenize(text)[:-1]]


def test_tokens_carry_their_start_offset():
    assert [t.position for t in tokenize("amount  >= 10")] == [0, 8, 11, 13]


def test_numbers_integers_decimals_exponents_and_underscores():
    assert kinds("12 3.5 1e3 2.5E-2 1_000") == [
        ("number", 12.0),
        ("number", 3.5),
        ("number", 1000.0),
        ("number", 0.025),
        ("number", 1000.0),
    ]


def test_strings_in_either_quote_with_escapes():
    assert kinds(r'"a\"b" ' + r"'it\'s' " + r'"\\ \n \t \u00e9"') == [
        ("string", 'a"b'),
        ("string", "it's"),
        ("string", "\\ \n \t é"),
    ]


def test_keywords_are_told_from_names():
    assert kinds("and or not in true false null amount") == [
        *(("keyword", word) for word in ("and", "or", "not", "in", "true", "false", "null")),
        ("name", "amount"),
    ]


def test_two_character_operators_are_one_token():
    assert [t.text for t in tokenize("== != <= >= =~ !~ < >")[:-1]] == ["==", "!=", "<=", ">=", "=~", "!~", "<", ">"]


@pytest.mark.parametrize(
    ("text", "position", "reason"),
    [
        ('channel == "online', 11, "unterminated string"),
        ("x == 'abc\\", 9, "unterminated string"),
        ('x == "a\\qb"', 7, "unknown escape"),
        ('x == "\\u12"', 6, "four hexadecimal digits"),
        ("amount # 3", 7, "unexpected character '#'"),
        ("amount > é", 9, "unexpected character 'é'"),
        ("amount > ²", 9, "unexpected character '²'"),
        ("3é", 0, "malformed number"),
        ("amount = 3", 7, "write '==' to compare"),
        ("a && b", 2, "write 'and'"),
        ("a || b", 2, "write 'or'"),
        ("!a", 0, "write 'not'"),
        ("12abc", 0, "malformed number"),
        ("1_", 0, "malformed number"),
    ],
)
def test_lexical_errors_name_the_position_and_the_reason(text, position, reason):
    with pytest.raises(ExpressionError) as error:
        tokenize(text)
    assert error.value.position == position
    assert reason in error.value.reason
    assert str(error.value).startswith(f"position {position}: ")
