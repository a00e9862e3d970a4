import pytest

from rules.language import MAX_DEPTH, MAX_LENGTH, ExpressionError
from rules.language.parser import Array, Binary, Call, Literal, Name, Unary, parse


def shape(node):
    """The tree as nested tuples: easy to compare."""
    if isinstance(node, Binary):
        return (node.op, shape(node.left), shape(node.right))
    if isinstance(node, Unary):
        return (node.op, shape(node.operand))
    if isinstance(node, Name):
        return node.text
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Array):
        return [shape(item) for item in node.items]
    if isinstance(node, Call):
        return (node.name, *map(shape, node.args))
    raise AssertionError(node)


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("a or b and c", ("or", "a", ("and", "b", "c"))),
        ("a and b or c", ("or", ("and", "a", "b"), "c")),
        ("not a and b", ("and", ("not", "a"), "b")),
        ("not a == b", ("not", ("==", "a", "b"))),
        ("a == 1 or b", ("or", ("==", "a", 1.0), "b")),
        ("a + b * c", ("+", "a", ("*", "b", "c"))),
        ("a * b + c", ("+", ("*", "a", "b"), "c")),
        ("(a + b) * c", ("*", ("+", "a", "b"), "c")),
        ("a + b > c * 2", (">", ("+", "a", "b"), ("*", "c", 2.0))),
        ("-a * b", ("*", ("-", "a"), "b")),
        ("- -a", ("-", ("-", "a"))),
        ("a - -1", ("-", "a", ("-", 1.0))),
        ("a in [1, 2] and b", ("and", ("in", "a", [1.0, 2.0]), "b")),
        ("a not in lists.x or b", ("or", ("not in", "a", "lists.x"), "b")),
        ("not a in [1]", ("not", ("in", "a", [1.0]))),
        ("lower(x) =~ 'a.c'", ("=~", ("lower", "x"), "a.c")),
        ("attributes.card.bin == '4'", ("==", "attributes.card.bin", "4")),
        ("a in ['x',]", ("in", "a", ["x"])),
    ],
)
def test_precedence(text, tree):
    assert shape(parse(text)) == tree


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("a - b - c", ("-", ("-", "a", "b"), "c")),
        ("a / b / c", ("/", ("/", "a", "b"), "c")),
        ("a % b * c", ("*", ("%", "a", "b"), "c")),
        ("a and b and c", ("and", ("and", "a", "b"), "c")),
        ("a or b or c", ("or", ("or", "a", "b"), "c")),
        ("not not a", ("not", ("not", "a"))),
    ],
)
def test_binary_operators_associate_to_the_left(text, tree):
    assert shape(parse(text)) == tree


@pytest.mark.parametrize(
    ("text", "position", "reason"),
    [
        ("", 0, "empty expression"),
        ("   ", 0, "empty expression"),
        ("amount >", 8, "expected a value, found the end of the expression"),
        ("amount > > 3", 9, "expected a value, found '>'"),
        ("amount 3", 7, "unexpected '3' after a complete expression"),
        ("(amount > 3", 0, "'(' is never closed"),
        ("amount > 3)", 10, "unexpected ')'"),
        ("a in [1, 2", 5, "'[' is never closed"),
        ("a in [1 2]", 8, "expected ']', found '2'"),
        ("f(1, 2", 1, "'(' is never closed"),
        ("1 < a < 3", 6, "comparisons do not chain"),
        ("a == b == c", 7, "comparisons do not chain"),
        ("a not b", 2, "unexpected 'not'"),
        ("attributes.", 10, "expected a name after '.'"),
        ("attributes.x.lower()", 0, "'attributes.x.lower' is not a function"),
        ("and", 0, "expected a value, found 'and'"),
    ],
)
def test_syntax_errors_name_the_position_and_the_reason(text, position, reason):
    with pytest.raises(ExpressionError) as error:
        parse(text)
    assert (error.value.position, reason in error.value.reason) == (position, True), error.value


def test_an_expression_longer_than_the_cap_is_refused():
    text = "amount > 1" + " or amount > 1" * (MAX_LENGTH // 14 + 1)
    with pytest.raises(ExpressionError, match="expression too long"):
        parse(text)


def test_an_expression_at_the_cap_parses():
    text = "a" * (MAX_LENGTH - 4) + " > 1"
    assert shape(parse(text)) == (">", "a" * (MAX_LENGTH - 4), 1.0)


def test_nesting_deeper_than_the_cap_is_refused():
    with pytest.raises(ExpressionError, match="nested too deeply") as error:
        parse("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1))
    assert error.value.position == MAX_DEPTH


def test_nesting_up_to_the_cap_parses():
    depth = MAX_DEPTH - 1
    assert shape(parse("(" * depth + "a" + ")" * depth)) == "a"


def test_a_long_flat_chain_is_not_too_deep():
    assert parse(" and ".join(["a"] * 300)) is not None


def test_an_attribute_key_that_is_no_name_is_written_in_brackets():
    assert shape(parse('attributes["card-bin"] == "4"')) == ("==", "attributes.card-bin", "4")
    assert shape(parse("attributes.card['first six'].x > 1")) == (">", "attributes.card.first six.x", 1.0)


@pytest.mark.parametrize(
    ("text", "position", "reason"),
    [
        ("attributes[1]", 11, "write an attribute's key in quotes"),
        ('attributes["a.b"]', 11, "an attribute's key cannot hold '.'"),
        ('attributes[""]', 11, "an attribute's key cannot be empty"),
        ('attributes["a"', 10, "'[' is never closed"),
        ('amount["x"] > 1', 6, "unexpected '['"),
    ],
)
def test_bracketed_attribute_key_errors(text, position, reason):
    with pytest.raises(ExpressionError) as error:
        parse(text)
    assert (error.value.position, reason in error.value.reason) == (position, True), error.value
