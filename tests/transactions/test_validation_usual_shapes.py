"""transaction_clean's path for the usual shapes gives exactly what the field rules give: the same values of the
same types, and for anything unusual the rules' own verdict and error texts."""

import math
from decimal import Decimal

import pytest

from transactions import validation
from transactions.validation import transaction_clean

HANDBOOK = {
    "transaction_id": "run-278302",
    "timestamp": "2018-04-30T00:00:28",
    "account_id": "782",
    "merchant_id": "7944",
    "amount": 13.14,
}
PROTOTYPE = {
    "transaction_id": "TXN_00033553",
    "timestamp": "2023-01-12 01:50:00",
    "amount": 527.3544179185092,
    "merchant_category": "food",
    "location_distance_km": 7.12459137533425,
    "is_online": 0,
    "time_since_last_transaction_minutes": 27.492500167699195,
    "is_weekend": 0,
    "user_id": 3564,
    "hour": 1,
    "transaction_count_1h": 4,
    "total_amount_24h": 1078.7155598647437,
}
FULL = {
    **HANDBOOK,
    "currency": "usd",
    "merchant_category": "grocery",
    "channel": "CNP",
    "latitude": 48.85,
    "longitude": -2.35,
    "location_distance_km": 0,
    "country": "fr",
    "device_id": "dev-1",
    "label": "fraud",
    "attributes": {"mcc": "5411"},
}

TIMESTAMPS = [
    "2026-01-05 10:00:00",
    "2026-01-05T10:00:00Z",
    "2026-01-05T10:00",
    "2026-01-05 10:00Z",
    "2026-01-05T10:00:00.5",
    "2026-01-05T10:00:00.123456",
    "2026-01-05T10:00:00.1234567",
    "2026-01-05T10:00:00+05:30",
    "2026-01-05T10:00:00-0330",
    "2026-01-05T10:00:00+05",
    "2026-01-05T10:00:00.25-02:00",
    "2026-01-05",
    "2026-01-05Z",
    "2026-01-05+01:00",
    " 2026-01-05T10:00:00 ",
    "2026-01-05t10:00:00",
    "2026-01-05T10",
    "2026-02-30 10:00:00",
    "2026-01-05T24:00:00",
    "2026-01-05T10:60:00",
    "2026-01-05T10:00:00+24:00",
    "2026-01-05T10:00:00\n",
    "٢٠٢٦-01-05 10:00:00",
    "20260105T100000",
    "1767607200",
    "",
    " ",
    1767607200,
    None,
]
AMOUNTS = [
    0,
    12,
    -1,
    0.0,
    -0.0,
    13.14,
    10.125,
    2.675,
    0.005,
    0.015,
    1e-7,
    527.3544179185092,
    99999999999.995,
    1e11,
    999999999999.99,
    "12.50",
    " 7.005 ",
    "10.125",
    "-0",
    "-0.001",
    "1e3",
    "1_000.5",
    "999999999999.994",
    "999999999999.995",
    "12,50",
    "abc",
    "Infinity",
    "NaN",
    "",
    math.nan,
    math.inf,
    True,
    None,
    10**11,
]
TEXTS = ["t1", " t1 ", "", "  ", "x" * 128, "x" * 129, 3564, -7, 12.0, 12.5, 1e20, math.nan, math.inf, True, None]
CODES = ["eur", " usd ", "EURO", "E1R", "FR", "fr", "F", "ÉUR", "", 978, 1.0, True, None]
CHOICES = [
    "online",
    " Online ",
    "CNP",
    "cp",
    "ATM",
    "true",
    "False",
    "1",
    "0",
    "fraud",
    "Legit",
    "pigeon",
    "2",
    "",
    1,
    0,
    2,
    -1,
    True,
    False,
    1.0,
    0.0,
    0.5,
    math.nan,
    None,
]
NUMBERS = [0, 90, -90, 91, 10**400, 0.0, -0.0, 48.85, 90.0, 90.0000001, -180.0, 1e308, math.inf, -math.inf]
NUMBERS += [math.nan, "48.85", " 2.35 ", "1e400", "x", "", True, None]


def _by_rules(raw: dict) -> validation.Cleaned:
    return validation._clean_by_rules(*validation._split_raw(raw))


def _typed(cleaned: validation.Cleaned):
    """What must agree, types and spellings included (Decimal('1.0') == 1.0 == True would hide a difference)."""
    data = None if cleaned.data is None else [(k, type(v), repr(v)) for k, v in cleaned.data.items()]
    return data, cleaned.errors


def _cases():
    for value in TIMESTAMPS:
        yield "timestamp", value
    for value in AMOUNTS:
        yield "amount", value
    for name in ("transaction_id", "account_id", "merchant_id", "merchant_category", "device_id"):
        yield from ((name, value) for value in TEXTS)
    for name in ("currency", "country"):
        yield from ((name, value) for value in CODES)
    for name in ("channel", "label", "is_online"):
        yield from ((name, value) for value in CHOICES)
    for name in ("latitude", "longitude", "location_distance_km"):
        yield from ((name, value) for value in NUMBERS)


@pytest.mark.parametrize(("name", "value"), list(_cases()))
@pytest.mark.parametrize("base", [HANDBOOK, FULL], ids=["handbook", "full"])
def test_one_field_of_any_shape_cleans_as_the_rules_clean_it(base, name, value):
    raw = {**base, name: value}

    assert _typed(transaction_clean(raw)) == _typed(_by_rules(raw))


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"amount": ""},
        {key: value for key, value in HANDBOOK.items() if key != "account_id"},
        {**HANDBOOK, "attributes": "not an object", "amount": -1},
        {**HANDBOOK, "attributes": {"a": 1, "amount": 2}, "a": 3, "extra": [1, {"b": None}]},
        {**HANDBOOK, "user_id": 99},
        {"user_id": 99, **HANDBOOK},
        {**HANDBOOK, "account_id": " ", "user_id": 99},
        {**HANDBOOK, "merchant": "m1", "terminal_id": 812},
        {**HANDBOOK, "channel": "atm", "is_online": 1},
        {**HANDBOOK, "is_online": 1, "channel": "atm"},
        {**FULL, "label": 1.0, "transaction_id": 12.0, "amount": True},
        PROTOTYPE,
        {**PROTOTYPE, "is_online": True, "user_id": 3564.0},
    ],
)
def test_whole_bodies_clean_as_the_rules_clean_them(raw):
    assert _typed(transaction_clean(raw)) == _typed(_by_rules(raw))


@pytest.mark.parametrize("raw", [HANDBOOK, PROTOTYPE, FULL, {**HANDBOOK, "timestamp": "2026-01-05T10:00:00+05:30"}])
def test_usual_bodies_take_the_usual_path(raw):
    values, attributes, errors = validation._split_raw(raw)

    assert not errors
    assert _typed(validation.Cleaned(data=validation._clean_usual(values, attributes))) == _typed(_by_rules(raw))


def test_a_setting_changed_default_currency_is_read_each_time(settings):
    settings.DEFAULT_CURRENCY = "GBP"
    assert transaction_clean(HANDBOOK).data["currency"] == "GBP"

    settings.DEFAULT_CURRENCY = "CHF"
    assert transaction_clean(HANDBOOK).data["currency"] == "CHF"


def test_remembered_spellings_stay_few_and_short():
    for number in range(300):
        transaction_clean({**HANDBOOK, "channel": " " * (number % 40) + "online"})

    assert len(validation._CHANNEL_WORDS) <= 256
    assert all(len(spelling) <= 32 for spelling in validation._CHANNEL_WORDS)
    assert transaction_clean({**HANDBOOK, "channel": " " * 35 + "online"}).data["channel"] == "online"


def test_amounts_round_half_up_on_the_written_decimal():
    assert [transaction_clean({**HANDBOOK, "amount": value}).data["amount"] for value in (2.675, 0.005, "10.125")] == [
        Decimal("2.68"),
        Decimal("0.01"),
        Decimal("10.13"),
    ]
