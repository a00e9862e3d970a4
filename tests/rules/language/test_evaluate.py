import numpy as np
import pytest

from rules.language import Batch, compile_expression
from tests.rules.language.conftest import SCHEMA, FakeMembership, run

NAN = float("nan")


def matched(text, **columns):
    return run(text, **columns).matched.tolist()


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ("==", [False, True, False]),
        ("!=", [True, False, True]),
        ("<", [True, False, False]),
        ("<=", [True, True, False]),
        (">", [False, False, True]),
        (">=", [False, True, True]),
    ],
)
def test_number_comparisons(op, expected):
    assert matched(f"amount {op} 10", amount=[5.0, 10.0, 15.0]) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("amount + 5 > 14", [False, True, True]),
        ("amount - 5 == 5", [False, True, False]),
        ("amount * 2 >= 20", [False, True, True]),
        ("amount / 4 == 2.5", [False, True, False]),
        ("amount % 4 == 1", [True, False, False]),
        ("-amount < -9", [False, True, True]),
        ("abs(amount - 10) <= 2", [False, True, False]),
        ("amount > 1e1", [False, False, True]),
    ],
)
def test_arithmetic(text, expected):
    assert matched(text, amount=[5.0, 10.0, 15.0]) == expected


def test_division_by_zero_is_missing_not_infinite():
    result = run("amount / score > 1", amount=[1.0, 1.0], score=[0.0, 0.5])
    assert (result.matched.tolist(), result.missing.tolist()) == ([False, True], [True, False])


def test_string_equality_and_inequality():
    channels = ["online", "atm", None]
    assert matched('channel == "online"', channel=channels) == [True, False, False]
    assert matched("channel != 'online'", channel=channels) == [False, True, False]


def test_boolean_fields_and_constants():
    flags = [True, False]
    assert matched("first_country_for_account", first_country_for_account=flags) == [True, False]
    assert matched("first_country_for_account == false", first_country_for_account=flags) == [False, True]
    assert matched("not first_country_for_account", first_country_for_account=flags) == [False, True]
    assert matched("true", amount=[1.0, 2.0]) == [True, True]
    assert matched("1 > 2", amount=[1.0, 2.0]) == [False, False]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("first_country_for_account and first_merchant_for_account", [True, False, False, False]),
        ("first_country_for_account or first_merchant_for_account", [True, True, True, False]),
        ("not first_country_for_account and first_merchant_for_account", [False, False, True, False]),
        ("not (first_country_for_account or first_merchant_for_account)", [False, False, False, True]),
    ],
)
def test_logic(text, expected):
    columns = {
        "first_country_for_account": [True, True, False, False],
        "first_merchant_for_account": [True, False, True, False],
    }
    assert matched(text, **columns) == expected


def test_in_and_not_in_an_array_of_strings():
    countries = ["FR", "DE", "US", None]
    assert matched('country in ["FR", "DE"]', country=countries) == [True, True, False, False]
    assert matched('country not in ["FR", "DE"]', country=countries) == [False, False, True, False]


def test_in_a_long_array_of_strings():
    values = ", ".join(f'"c{i}"' for i in range(40))
    assert matched(f"country in [{values}]", country=["c7", "c40", None]) == [True, False, False]


def test_in_an_array_of_numbers():
    assert matched("amount in [1, 2.5, -3]", amount=[1.0, 2.0, 2.5, -3.0]) == [True, False, True, True]


def test_regex_match_searches_anywhere_and_anchors_when_asked():
    ids = ["shop-123", "123-shop", None]
    assert matched('merchant_id =~ "shop"', merchant_id=ids) == [True, True, False]
    assert matched('merchant_id =~ "^shop-[0-9]+$"', merchant_id=ids) == [True, False, False]
    assert matched('merchant_id !~ "^shop"', merchant_id=ids) == [False, True, False]


def test_functions_lower_upper_length():
    ids = ["Shop", "SHOP", "mall", None]
    assert matched('lower(merchant_id) == "shop"', merchant_id=ids) == [True, True, False, False]
    assert matched('upper(merchant_id) == "MALL"', merchant_id=ids) == [False, False, True, False]
    assert matched("length(merchant_id) == 4", merchant_id=ids) == [True, True, True, False]


def test_list_membership_asks_the_membership_only_for_present_values():
    blocked = FakeMembership({"m1", "m3"})
    result = run(
        "merchant_id in lists.blocked_merchants",
        {"blocked_merchants": blocked},
        merchant_id=["m1", "m2", None, "m3"],
    )
    assert result.matched.tolist() == [True, False, False, True]
    assert result.missing.tolist() == [False, False, True, False]
    assert blocked.asked == [["m1", "m2", "m3"]]


def test_not_in_a_list():
    result = run(
        "merchant_id not in lists.blocked_merchants",
        {"blocked_merchants": FakeMembership({"m1"})},
        merchant_id=["m1", "m2", None],
    )
    assert result.matched.tolist() == [False, True, False]


def test_a_batch_of_no_rows():
    compiled = compile_expression("amount > 1 and merchant_id in lists.blocked_merchants", SCHEMA)
    result = compiled.evaluate(
        {"amount": np.zeros(0), "merchant_id": np.zeros(0, dtype=object)},
        {"blocked_merchants": FakeMembership(set())},
    )
    assert (result.matched.shape, result.missing.shape) == ((0,), (0,))


def test_a_condition_reading_no_column_takes_the_size():
    result = compile_expression("2 > 1", SCHEMA).evaluate({}, size=3)
    assert result.matched.tolist() == [True, True, True]


def test_the_result_is_not_the_batch_column_itself():
    column = np.array([True, False])
    result = compile_expression("first_country_for_account", SCHEMA).evaluate({"first_country_for_account": column})
    result.matched[:] = False
    assert column.tolist() == [True, False]


def test_a_shared_batch_gives_each_rule_the_same_answers():
    columns = {"amount": np.array([1.0, NAN, 30.0]), "channel": np.array(["online", None, "atm"], dtype=object)}
    rules = [compile_expression(text, SCHEMA) for text in ('amount > 2 or channel == "online"', "amount < 2")]
    batch = Batch(columns)
    shared = [rule.evaluate(batch) for rule in rules]
    alone = [rule.evaluate(columns) for rule in rules]
    for a, b in zip(shared, alone, strict=True):
        assert (a.matched.tolist(), a.missing.tolist()) == (b.matched.tolist(), b.missing.tolist())


def test_in_an_array_of_one_string_and_of_flags():
    assert matched('country in ["FR"]', country=["FR", "DE", None]) == [True, False, False]
    flags = {"first_country_for_account": [True, False]}
    assert matched("first_country_for_account in [true]", **flags) == [True, False]
    assert matched("first_country_for_account not in [true, false]", **flags) == [False, False]


def test_rules_sharing_a_batch_look_a_column_up_in_a_list_once():
    blocked = FakeMembership({"m1"})
    columns = {
        "merchant_id": np.array(["m1", None, "m2"], dtype=object),
        "amount": np.array([5.0, 50.0, 500.0]),
    }
    shared = Batch(columns, {"blocked_merchants": blocked})
    first = compile_expression("merchant_id in lists.blocked_merchants", SCHEMA).evaluate(shared)
    second = compile_expression("merchant_id not in lists.blocked_merchants and amount > 10", SCHEMA).evaluate(shared)

    assert first.matched.tolist() == [True, False, False]
    assert second.matched.tolist() == [False, False, True]
    assert second.missing.tolist() == [False, True, False]
    assert blocked.asked == [["m1", "m2"]]  # once, the missing value never asked
