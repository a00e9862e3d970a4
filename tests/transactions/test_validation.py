"""The canonical schema's rules, for one dict and for a file, and that both paths agree."""

import csv
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from transactions.files import read_mapped_chunks
from transactions.validation import CANONICAL_FIELDS, FieldError, Reason, frame_clean, transaction_clean

PLACE_FLOATS = ("billing_latitude", "billing_longitude", "shipping_latitude", "shipping_longitude")
GOOD = {"transaction_id": "t1", "timestamp": "2026-01-05 10:00:00", "account_id": "a1", "amount": "12.50"}


def test_prototype_body_aliases_map_onto_canonical_fields():
    raw = {"transaction_id": "t1", "timestamp": "2023-01-12 01:50:00", "user_id": 3564, "amount": 527.354}
    cleaned = transaction_clean({**raw, "is_online": 1, "merchant": "shop-9", "merchant_category": "food"})

    assert cleaned.ok
    assert cleaned.data["account_id"] == "3564"
    assert cleaned.data["channel"] == "online"
    assert cleaned.data["merchant_id"] == "shop-9"


@pytest.mark.parametrize(
    ("given", "channel"), [("CP", "in_person"), ("CNP", "online"), (0, "in_person"), ("atm", "atm")]
)
def test_channel_aliases(given, channel):
    assert transaction_clean({**GOOD, "channel": given}).data["channel"] == channel


def test_terminal_id_becomes_merchant_id():
    assert transaction_clean({**GOOD, "terminal_id": 812}).data["merchant_id"] == "812"


def test_unknown_keys_are_kept_verbatim_in_attributes():
    cleaned = transaction_clean({**GOOD, "transaction_count_1h": 4, "note": "x", "attributes": {"mcc": "5411"}})

    assert cleaned.data["attributes"] == {"transaction_count_1h": 4, "note": "x", "mcc": "5411"}


def test_every_missing_required_field_is_reported():
    cleaned = transaction_clean({"amount": ""})

    assert cleaned.data is None
    assert cleaned.errors == [
        FieldError("transaction_id", Reason.REQUIRED),
        FieldError("timestamp", Reason.REQUIRED),
        FieldError("account_id", Reason.REQUIRED),
        FieldError("amount", Reason.REQUIRED),
    ]


def test_negative_amount_is_refused():
    assert transaction_clean({**GOOD, "amount": "-0.01"}).errors == [FieldError("amount", Reason.NEGATIVE)]


def test_amount_is_rounded_half_up_to_cents():
    assert transaction_clean({**GOOD, "amount": "10.125"}).data["amount"] == Decimal("10.13")


def test_naive_timestamp_is_utc_and_offsets_are_converted():
    naive = transaction_clean({**GOOD, "timestamp": "2026-01-05 10:00:00"}).data["timestamp"]
    offset = transaction_clean({**GOOD, "timestamp": "2026-01-05T11:00:00+01:00"}).data["timestamp"]

    assert naive == offset == datetime(2026, 1, 5, 10, tzinfo=UTC)


def test_unknown_channel_is_refused():
    assert transaction_clean({**GOOD, "channel": "pigeon"}).errors == [FieldError("channel", Reason.CHANNEL)]


def test_defaults_fill_optional_fields(settings):
    settings.DEFAULT_CURRENCY = "GBP"

    data = transaction_clean(GOOD).data

    assert (data["currency"], data["channel"], data["merchant_id"], data["label"]) == ("GBP", "other", "", None)


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("latitude", "91", Reason.LATITUDE),
        ("longitude", "-180.5", Reason.LONGITUDE),
        ("country", "FRA", Reason.COUNTRY),
        ("currency", "EURO", Reason.CURRENCY),
        ("label", "maybe", Reason.LABEL),
        ("timestamp", "05/01/2026", Reason.NOT_A_DATE),
        ("amount", "12,50", Reason.NOT_A_NUMBER),
        ("transaction_id", "x" * 129, Reason.too_long(128)),
        ("amount", "1e30", Reason.TOO_LARGE),  # past Decimal's rounding precision: refused, not an exception
        ("amount", "999999999999.995", Reason.TOO_LARGE),
        ("account_id", "a\x00b", Reason.NUL),
        ("merchant_id", "m-1\x00", Reason.NUL),
    ],
)
def test_out_of_rule_values_name_field_and_reason(name, value, reason):
    assert transaction_clean({**GOOD, name: value}).errors == [FieldError(name, reason)]


def test_the_largest_amount_is_kept():
    assert transaction_clean({**GOOD, "amount": "999999999999.994"}).data["amount"] == Decimal("999999999999.99")


def test_a_nul_character_in_an_attribute_is_refused_naming_its_key():
    body = {**GOOD, "note": "a\x00b", "attributes": {"tags": ["ok", {"deep": "\x00"}], "fine": "yes"}}

    assert transaction_clean(body).errors == [FieldError("tags", Reason.NUL), FieldError("note", Reason.NUL)]


MIXED_ROWS = [
    GOOD,
    {**GOOD, "transaction_id": "t2", "timestamp": "2026-01-05T10:00:00Z", "amount": "0", "channel": "CNP"},
    {**GOOD, "transaction_id": "t3", "amount": "1e3", "latitude": "48.85", "longitude": "2.35", "country": "fr"},
    {**GOOD, "transaction_id": "t4", "amount": "12.345", "label": "fraud", "currency": "usd"},
    {**GOOD, "transaction_id": "t5", "timestamp": "2026-02-30 10:00:00", "amount": "abc"},
    {**GOOD, "transaction_id": "", "account_id": " ", "amount": "-3"},
    {**GOOD, "transaction_id": "t7", "channel": "pigeon", "label": "2", "latitude": "-95", "longitude": "x"},
    {**GOOD, "transaction_id": "t8", "timestamp": "2026-01-05T10:00:00.123456+0530", "label": "Legit"},
    {**GOOD, "transaction_id": "t9", "amount": "Infinity", "currency": "E1R", "country": "F"},
    {**GOOD, "transaction_id": "t10", "timestamp": "1767607200", "location_distance_km": "-1", "device_id": "d" * 129},
    {**GOOD, "transaction_id": "t11", "amount": " 7.005 ", "channel": "1", "merchant_category": "food"},
]


def test_file_path_and_one_dict_path_agree(tmp_path):
    path = tmp_path / "mixed.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CANONICAL_FIELDS)
        writer.writeheader()
        writer.writerows(MIXED_ROWS)

    [chunk] = read_mapped_chunks(
        path, mapping={name: name for name in CANONICAL_FIELDS if name != "label"}, label_column="label"
    )

    one_by_one = [transaction_clean(row) for row in MIXED_ROWS]
    assert [(e.row, e.field, e.reason) for e in chunk.errors] == [
        (row, e.field, e.reason) for row, cleaned in enumerate(one_by_one, start=1) for e in cleaned.errors
    ]
    assert _as_dict_path(chunk.frame) == [cleaned.data for cleaned in one_by_one if cleaned.ok]


def _as_dict_path(frame):
    rows = []
    for record in frame.to_dict("records"):
        record["timestamp"] = record["timestamp"].to_pydatetime()
        record["amount"] = Decimal(repr(record["amount"])).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
        record["label"] = None if record["label"] != record["label"] else int(record["label"])
        for name in ("latitude", "longitude", "location_distance_km", *PLACE_FLOATS):
            record[name] = None if record[name] != record[name] else record[name]
        rows.append({"attributes": {}, **record})
    return rows


def test_numeric_columns_of_a_file_are_spelled_as_the_one_dict_path_spells_them():
    raw = pd.DataFrame(
        {
            "transaction_id": [1.0, 2.5, 3.0, 4.0],
            "timestamp": ["2026-01-05 10:00:00"] * 4,
            "account_id": [12.0, 7.0, np.nan, 1e6],
            "amount": [1.0, 2.0, 3.0, 4.0],
            "device_id": [np.nan] * 4,  # present but empty, like a column the file does not have
        },
        index=[1, 2, 3, 4],
    )
    frame, errors = frame_clean(raw)

    assert [(e.row, e.field, e.reason) for e in errors] == [(3, "account_id", Reason.REQUIRED)]
    assert frame["transaction_id"].tolist() == ["1", "2.5", "4"]
    assert frame["account_id"].tolist() == ["12", "7", "1000000"]
    assert frame["device_id"].tolist() == ["", "", ""] and frame["merchant_category"].tolist() == ["", "", ""]
    for row in (1, 2, 4):
        one = transaction_clean({k: v for k, v in raw.loc[row].items() if v == v})
        assert (one.data["transaction_id"], one.data["account_id"]) == tuple(
            frame.loc[row, ["transaction_id", "account_id"]]
        )
