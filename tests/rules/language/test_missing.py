"""A row lacking a value a rule reads never matches and is counted as missing, unless the rest decides alone."""

import pytest

from tests.rules.language.conftest import FakeMembership, run

NAN = float("nan")


def outcome(text, memberships=None, **columns):
    result = run(text, memberships, **columns)
    return list(zip(result.matched.tolist(), result.missing.tolist(), strict=True))


def test_a_missing_number_makes_a_comparison_missing():
    assert outcome("amount > 1", amount=[5.0, NAN]) == [(True, False), (False, True)]
    assert outcome("amount != 1", amount=[5.0, NAN]) == [(True, False), (False, True)]


def test_a_missing_string_makes_a_comparison_missing():
    assert outcome("channel != 'atm'", channel=["online", None]) == [(True, False), (False, True)]


def test_not_of_missing_is_missing():
    assert outcome("not amount > 1", amount=[5.0, NAN]) == [(False, False), (False, True)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # and: false with either side false, whatever the other; missing otherwise.
        ("amount > 1 and score > 0.5", [(True, False), (False, False), (False, True), (False, False)]),
        # or: true with either side true, whatever the other; missing otherwise.
        ("amount > 1 or score > 0.5", [(True, False), (False, True), (True, False), (False, True)]),
    ],
)
def test_and_or_follow_three_valued_logic(text, expected):
    # rows: (true, true), (missing, false), (missing, true), (false, missing)
    assert outcome(text, amount=[5.0, NAN, NAN, 0.0], score=[0.9, 0.1, 0.9, NAN]) == expected


def test_both_sides_missing():
    assert outcome("amount > 1 and score > 1", amount=[NAN], score=[NAN]) == [(False, True)]
    assert outcome("amount > 1 or score > 1", amount=[NAN], score=[NAN]) == [(False, True)]


def test_null_tests_read_whether_a_value_is_missing_and_are_never_missing():
    assert outcome("amount == null", amount=[1.0, NAN]) == [(False, False), (True, False)]
    assert outcome("null != channel", channel=["a", None]) == [(True, False), (False, False)]
    assert outcome("attributes.mcc == null", attributes__mcc=["5411", None]) == [(False, False), (True, False)]


def test_a_missing_attribute_never_matches_and_is_counted():
    rows = ["5411", None, "5999"]
    assert outcome('attributes.mcc == "5411"', attributes__mcc=rows) == [(True, False), (False, True), (False, False)]
    assert outcome('attributes.mcc != "5411"', attributes__mcc=rows) == [(False, False), (False, True), (True, False)]


def test_an_attribute_of_another_type_counts_as_missing():
    rows = [600, "600", True, 400.5, None, {"a": 1}]
    assert outcome("attributes.x > 500", attributes__x=rows) == [
        (True, False),
        (False, True),  # text is not a number
        (False, True),  # nor is a flag
        (False, False),
        (False, True),
        (False, True),
    ]


def test_an_attribute_read_as_text_flag_and_number():
    rows = ["yes", True, 3]
    assert outcome("attributes.x == 'yes'", attributes__x=rows) == [(True, False), (False, True), (False, True)]
    assert outcome("attributes.x", attributes__x=rows) == [(False, True), (True, False), (False, True)]
    assert outcome("attributes.x == 3", attributes__x=rows) == [(False, True), (False, True), (True, False)]


def test_two_attributes_compare_as_they_are():
    assert outcome(
        "attributes.a == attributes.b", attributes__a=["x", 1, None, "y"], attributes__b=["x", 1.0, "z", "q"]
    ) == [(True, False), (True, False), (False, True), (False, False)]


def test_nested_attributes_are_columns_by_their_dotted_name():
    assert outcome("attributes.card.bin in ['4111']", attributes__card__bin=["4111", None]) == [
        (True, False),
        (False, True),
    ]


def test_a_missing_value_is_never_looked_up_in_a_list():
    assert outcome(
        "attributes.device in lists.vip", {"vip": FakeMembership({"d1"})}, attributes__device=["d1", None, 7]
    ) == [(True, False), (False, True), (False, True)]


def test_arithmetic_on_a_missing_value_is_missing():
    assert outcome("amount * 2 + score > 1", amount=[1.0, NAN], score=[0.0, 5.0]) == [(True, False), (False, True)]


def test_a_missing_row_on_one_side_does_not_spoil_a_decided_or():
    assert outcome(
        "attributes.mcc == '5411' or amount > 1000", attributes__mcc=[None, None], amount=[2000.0, 10.0]
    ) == [(True, False), (False, True)]


def test_a_constant_division_by_zero_is_missing_too():
    assert outcome("1 / 0 > 1", amount=[1.0]) == [(False, True)]
    assert outcome("not 1 % 0 == 1", amount=[1.0]) == [(False, True)]
    assert outcome("1 / 0 == null", amount=[1.0]) == [(True, False)]
    assert outcome("1 / 0 > 1 or amount > 0", amount=[1.0, -1.0]) == [(True, False), (False, True)]
