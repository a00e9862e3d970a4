import pytest

from rules.language import ExpressionError, Schema, Type, compile_expression
from tests.rules.language.conftest import SCHEMA


def refused(text: str, schema: Schema = SCHEMA) -> ExpressionError:
    with pytest.raises(ExpressionError) as error:
        compile_expression(text, schema)
    return error.value


def test_compiled_names_the_fields_and_lists_it_reads():
    compiled = compile_expression(
        'amount > 500 and merchant_id in lists.blocked_merchants or attributes.card.bin == "4"', SCHEMA
    )
    assert compiled.fields == {"amount", "merchant_id", "attributes.card.bin"}
    assert compiled.lists == {"blocked_merchants"}


def test_an_unknown_field_suggests_the_closest_name():
    error = refused("amount > 500 and amout < 900")
    assert (error.position, error.reason) == (17, "unknown field 'amout' (did you mean 'amount'?)")
    assert str(error) == "position 17: unknown field 'amout' (did you mean 'amount'?)"
    assert error.length == 5


def test_an_unknown_field_far_from_every_name_suggests_nothing():
    assert refused("zzzz > 1").reason == "unknown field 'zzzz'"


def test_a_capitalised_constant_suggests_the_keyword():
    assert refused("first_country_for_account == True").reason == "unknown field 'True' (did you mean 'true'?)"


@pytest.mark.parametrize(
    ("text", "position", "reason"),
    [
        ('amount > "x"', 7, "cannot compare number with string"),
        ('"x" == amount', 4, "cannot compare string with number"),
        ("channel == 3", 8, "cannot compare string with number"),
        ("first_country_for_account == 1", 26, "cannot compare boolean with number"),
        ('channel < "b"', 8, "'<' orders numbers, not a string"),
        ("first_country_for_account >= true", 26, "'>=' orders numbers, not a boolean"),
        ("amount and score > 1", 7, "'and' joins conditions (true or false), not a number"),
        ('score > 1 or "yes"', 10, "'or' joins conditions (true or false), not a string"),
        ("not amount", 0, "'not' takes true or false, not a number"),
        ("-channel == 1", 0, "'-' negates a number, not a string"),
        ('amount + "1" > 3', 7, "'+' works on numbers, not a string"),
        ("amount > null", 7, "'>' cannot compare with null; use == null or != null"),
        ("amount + 1", 0, "a rule's condition is true or false; this expression gives a number"),
        ("channel", 0, "a rule's condition is true or false; this expression gives a string"),
    ],
)
def test_type_errors_name_the_operator_and_the_types(text, position, reason):
    error = refused(text)
    assert (error.position, error.reason) == (position, reason)


def test_a_list_is_refused_against_a_field_of_another_kind():
    error = refused("country in lists.blocked_merchants")
    assert error.position == 11
    assert error.reason == "lists.blocked_merchants is a list of merchant values; country is a country value"


def test_a_text_list_takes_any_string_field():
    assert compile_expression("country in lists.words and merchant_id not in lists.words", SCHEMA).lists == {"words"}


def test_a_field_whose_kind_is_not_declared_takes_any_list():
    schema = Schema(fields={"merchant_id": Type.STRING}, lists={"blocked_merchants": "merchant"})
    assert compile_expression("merchant_id in lists.blocked_merchants", schema).lists == {"blocked_merchants"}


def test_an_attribute_takes_any_list():
    assert compile_expression("attributes.device in lists.vip", SCHEMA).fields == {"attributes.device"}


def test_an_unknown_list_suggests_the_closest_name():
    error = refused("merchant_id in lists.blocked_merchnats")
    assert (error.position, error.reason) == (
        15,
        "unknown list 'blocked_merchnats' (did you mean 'blocked_merchants'?)",
    )


def test_an_unknown_list_says_when_there_are_none():
    error = refused("merchant_id in lists.blocked", Schema(fields={"merchant_id": Type.STRING}))
    assert error.reason == "unknown list 'blocked' (there are no lists)"


@pytest.mark.parametrize(
    ("text", "position", "reason"),
    [
        ("amount in lists.blocked_merchants", 7, "a list holds text: cannot look a number up in it"),
        ("lists.blocked_merchants == 'x'", 0, "a list is read only on the right of 'in' or 'not in'"),
        ("merchant_id in lists", 15, "write lists.<name>"),
        ("merchant_id in lists.a.b", 15, "write lists.<name>"),
        ("merchant_id in merchant_id", 12, "'in' looks a value up in an array"),
        ("attributes == 1", 0, "write attributes.<key>"),
        ("amount.value > 1", 0, "only attributes.<key> and lists.<name> are written with a dot"),
        ("[1, 2] == amount", 0, "an array is written only on the right of 'in' or 'not in'"),
        ("amount in []", 10, "empty array"),
        ("amount in [1, 'a']", 10, "an array holds values of one type"),
        ("amount in [score]", 11, "an array holds written numbers, strings or true/false only"),
        ("amount in [null]", 11, "an array holds written numbers, strings or true/false only"),
        ("channel in [1, 2]", 8, "cannot look a string up in an array of numbers"),
        ("channel =~ country", 8, "'=~' takes a pattern written as a string"),
        ("channel =~ '(['", 11, "invalid regular expression"),
        ("amount =~ '1'", 7, "'=~' matches a string, not a number"),
        ("lowr(channel) == 'a'", 0, "unknown function 'lowr' (did you mean 'lower'?)"),
        ("lower(channel, country) == 'a'", 0, "lower() takes one string, given 2 arguments"),
        ("lower(amount) == 'a'", 0, "lower() takes a string, not a number"),
        ("abs(channel) > 1", 0, "abs() takes a number, not a string"),
        ("lower == 'a'", 0, "lower is a function: write lower(…)"),
    ],
)
def test_other_errors_name_the_position_and_the_reason(text, position, reason):
    error = refused(text)
    assert error.position == position, error
    assert reason in error.reason, error


def test_an_attribute_compares_with_any_type():
    for text in ("attributes.x > 1", "attributes.x == 'a'", "attributes.x == true", "attributes.x == attributes.y"):
        assert compile_expression(text, SCHEMA).fields


def test_an_attribute_alone_is_a_condition():
    assert compile_expression("attributes.is_test", SCHEMA).fields == {"attributes.is_test"}


def test_keywords_are_not_field_names():
    assert refused("in > 1").position == 0


@pytest.mark.parametrize("pattern", ["(a+)+$", "(x*)*", "(?:ab|c*)*", "((ab)+c)*"])
def test_a_pattern_with_a_repetition_inside_a_repetition_is_refused(pattern):
    error = refused(f'merchant_id =~ "{pattern}"')
    assert error.position == 15
    assert "a repetition inside a repetition" in error.reason


@pytest.mark.parametrize("pattern", ["^shop-[0-9]+$", "(ab|cd)*", "(a{1,3})+", "^[A-Z]{2}$"])
def test_a_pattern_without_nested_repetition_compiles(pattern):
    assert compile_expression(f'merchant_id =~ "{pattern}"', SCHEMA).fields == {"merchant_id"}
