"""Card-not-present places (billing and shipping latitude, longitude, postal code and country; the IP's country):
optional, validated alike for one dict and for a file, errors naming the field (and the row), stored as given."""

import csv

import pytest

from transactions.files import guess_mapping, read_mapped_chunks
from transactions.validation import PLACE_FIELDS, FieldError, Reason, transaction_clean

GOOD = {"transaction_id": "t1", "timestamp": "2026-01-05 10:00:00", "account_id": "a1", "amount": "12.50"}
PLACES = {
    "billing_latitude": "48.85",
    "billing_longitude": 2.35,
    "billing_postal_code": " 75001 ",
    "billing_country": "fr",
    "shipping_latitude": 52.52,
    "shipping_longitude": "13.40",
    "shipping_postal_code": "10115",
    "shipping_country": "DE",
    "ip_country": "nl",
}


def test_places_are_cleaned_numbers_and_upper_case_codes():
    data = transaction_clean({**GOOD, **PLACES}).data

    assert {name: data[name] for name in PLACE_FIELDS} == {
        "billing_latitude": 48.85,
        "billing_longitude": 2.35,
        "billing_postal_code": "75001",
        "billing_country": "FR",
        "shipping_latitude": 52.52,
        "shipping_longitude": 13.4,
        "shipping_postal_code": "10115",
        "shipping_country": "DE",
        "ip_country": "NL",
    }


def test_a_transaction_without_places_has_none():
    data = transaction_clean(GOOD).data

    assert [data[name] for name in PLACE_FIELDS] == [None, None, "", "", None, None, "", "", ""]


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("billing_latitude", "90.5", Reason.LATITUDE),
        ("billing_longitude", 181, Reason.LONGITUDE),
        ("shipping_latitude", "-91", Reason.LATITUDE),
        ("shipping_longitude", "east", Reason.NOT_A_NUMBER),
        ("billing_country", "FRA", Reason.COUNTRY),
        ("shipping_country", "1", Reason.COUNTRY),
        ("ip_country", "N-", Reason.COUNTRY),
        ("shipping_postal_code", "1" * 17, Reason.too_long(16)),
    ],
)
def test_a_bad_place_is_refused_naming_its_field(name, value, reason):
    assert transaction_clean({**GOOD, name: value}).errors == [FieldError(name, reason)]


def test_a_file_with_places_is_read_as_one_dict_is_and_errors_name_row_and_field(tmp_path):
    rows = [
        {**GOOD, **PLACES},
        {**GOOD, "transaction_id": "t2", "shipping_latitude": "95", "ip_country": "XYZ"},
        {**GOOD, "transaction_id": "t3"},
    ]
    columns = {name: f"col_{name}" for name in ("transaction_id", "timestamp", "account_id", "amount", *PLACE_FIELDS)}
    path = tmp_path / "places.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns.values()))
        writer.writeheader()
        writer.writerows([{columns[k]: v for k, v in row.items()} for row in rows])

    [chunk] = read_mapped_chunks(path, mapping=columns)

    assert [(e.row, e.field, e.reason) for e in chunk.errors] == [
        (2, "shipping_latitude", Reason.LATITUDE),
        (2, "ip_country", Reason.COUNTRY),
    ]
    stored = chunk.frame.to_dict("records")
    assert [r["transaction_id"] for r in stored] == ["t1", "t3"]
    expected = transaction_clean(rows[0]).data
    assert {name: stored[0][name] for name in PLACE_FIELDS} == {name: expected[name] for name in PLACE_FIELDS}
    assert (stored[1]["billing_country"], stored[1]["ip_country"]) == ("", "")


def test_an_uploads_place_columns_are_guessed_from_their_usual_names():
    header = ["id", "date", "user_id", "amount", "billing_zip", "billing_country", "shipping_lat", "shipping_lng"]

    mapping = guess_mapping([*header, "ip_country"])

    assert {k: mapping[k] for k in ("billing_postal_code", "billing_country", "ip_country")} == {
        "billing_postal_code": "billing_zip",
        "billing_country": "billing_country",
        "ip_country": "ip_country",
    }
    assert (mapping["shipping_latitude"], mapping["shipping_longitude"]) == ("shipping_lat", "shipping_lng")
