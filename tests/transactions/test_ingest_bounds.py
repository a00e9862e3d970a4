"""The ingest rules' bounds (issue #22): times in a window, text that is text, plain numbers, finite numbers, bounded
attributes and Unicode that PostgreSQL can store, for one dict and for a file alike."""

import csv
import math
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import time_machine
from django.core.management import CommandError, call_command

from transactions.files import MappingError, UnreadableFile, check_readable, plan_columns, read_mapped_chunks
from transactions.models import Transaction
from transactions.validation import FieldError, Reason, frame_clean, transaction_clean

GOOD = {"transaction_id": "t1", "timestamp": "2026-01-05 10:00:00", "account_id": "a1", "amount": "12.50"}
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def errors_of(**changes) -> list[FieldError]:
    return transaction_clean({**GOOD, **changes}).errors


def nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    "moment", ["0001-01-01 00:00:00", "0001-01-01T00:00:00+01:00", "1969-12-31T23:59:59Z", "9999-12-31 23:59:59"]
)
def test_a_timestamp_outside_the_window_is_refused_naming_the_field(moment):
    assert errors_of(timestamp=moment) == [FieldError("timestamp", Reason.timestamp_range())]


def test_the_window_runs_from_timestamp_min_to_timestamp_max_ahead_after_now(settings):
    settings.TIMESTAMP_MIN, settings.TIMESTAMP_MAX_AHEAD = "2020-01-01", 3600

    with time_machine.travel(NOW, tick=False):
        assert errors_of(timestamp="2020-01-01T00:00:00Z") == []
        assert errors_of(timestamp="2019-12-31T23:59:59Z")[0].field == "timestamp"
        assert errors_of(timestamp="2026-06-01T13:00:00Z") == []
        assert errors_of(timestamp="2026-06-01T13:00:01Z")[0].field == "timestamp"
        assert "from 2020-01-01 00:00:00Z to 1 hour after now" in Reason.timestamp_range()


@pytest.mark.parametrize("value", [["a"], {"id": "a"}, True, math.inf, -math.inf])
def test_a_text_field_refuses_what_is_not_text_or_a_number(value):
    assert errors_of(account_id=value) == [FieldError("account_id", Reason.TEXT)]


@pytest.mark.parametrize(("value", "text"), [(1234, "1234"), (12.0, "12"), (12.5, "12.5"), (" u1 ", "u1")])
def test_numbers_for_ids_are_kept_as_their_text_as_the_prototype_sent_them(value, text):
    body = {name: value for name, value in GOOD.items() if name != "account_id"} | {"user_id": value}

    assert transaction_clean(body).data["account_id"] == text


@pytest.mark.parametrize("value", ["1_000", "1_000.50", "١٢", "0x10", "Infinity", "nan", 1e309])
def test_an_amount_must_be_a_plain_finite_decimal(value):
    assert errors_of(amount=value) == [FieldError("amount", Reason.NOT_A_NUMBER)]


@pytest.mark.parametrize("value", ["1e3", " 7.005 ", "+5", ".5", "5."])
def test_plain_decimals_in_text_are_still_amounts(value):
    assert errors_of(amount=value) == []


def test_a_lone_surrogate_in_a_field_or_an_attribute_key_or_value_is_refused_naming_it():
    body = {**GOOD, "account_id": "a\ud800", "note": "\udfff", "attributes": {"k\ud800": 1}}

    assert transaction_clean(body).errors == [
        FieldError("k\\ud800", Reason.SURROGATE),
        FieldError("note", Reason.SURROGATE),
        FieldError("account_id", Reason.SURROGATE),
    ]


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, [1.0, math.inf], {"x": {"y": math.nan}}])
def test_an_attribute_number_must_be_finite(value):
    assert errors_of(total_amount_24h=value) == [FieldError("total_amount_24h", Reason.NOT_FINITE)]


def test_attributes_may_nest_to_the_depth_limit_and_no_deeper(settings):
    settings.ATTRIBUTES_MAX_DEPTH = 5

    assert errors_of(attributes={"deep": nested(4)}) == []
    assert errors_of(attributes={"deep": nested(5)}) == [FieldError("deep", Reason.too_deep())]


def test_attributes_nested_thousands_deep_are_refused_without_a_recursion_error():
    value: list = []
    for _ in range(50_000):
        value = [value]

    assert errors_of(deep=value) == [FieldError("deep", Reason.too_deep())]


def test_attributes_are_bounded_in_keys_and_bytes(settings):
    settings.ATTRIBUTES_MAX_KEYS, settings.ATTRIBUTES_MAX_BYTES = 10, 1000

    assert errors_of(**{f"k{n}": n for n in range(10)}) == []
    assert errors_of(**{f"k{n}": n for n in range(11)}) == [FieldError("attributes", Reason.too_many_keys())]
    assert errors_of(nested={"a": 1, "b": {"c": 2}, **{f"k{n}": n for n in range(7)}}) == [
        FieldError("attributes", Reason.too_many_keys())
    ]
    assert errors_of(note="é" * 400) == []  # 800 bytes
    assert errors_of(note="é" * 500) == [FieldError("attributes", Reason.too_big())]


@pytest.mark.parametrize("item", [5, "text", ["a"], None])
def test_an_item_that_is_not_an_object_is_refused_as_a_whole(item):
    assert transaction_clean(item).errors == [FieldError(None, Reason.NOT_AN_OBJECT)]


# ---------------------------------------------------------------- files


def test_a_file_refuses_the_same_values_row_by_row_and_keeps_the_others(tmp_path):
    rows = [
        GOOD,
        {**GOOD, "transaction_id": "t2", "timestamp": "0001-01-01 00:00:00"},
        {**GOOD, "transaction_id": "t3", "amount": "1_000"},
        {**GOOD, "transaction_id": "t4", "timestamp": "9999-12-31T00:00:00Z"},
        {**GOOD, "transaction_id": "t5"},
    ]
    path = tmp_path / "rows.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(GOOD))
        writer.writeheader()
        writer.writerows(rows)

    [chunk] = read_mapped_chunks(path, mapping={name: name for name in GOOD})

    assert [(e.row, e.field, e.reason) for e in chunk.errors] == [
        (row, e.field, e.reason) for row, raw in enumerate(rows, start=1) for e in transaction_clean(raw).errors
    ]
    assert chunk.frame["transaction_id"].tolist() == ["t1", "t5"]


def test_a_file_refuses_booleans_lists_and_infinities_as_text_and_out_of_range_datetimes():
    raw = pd.DataFrame(
        {
            "transaction_id": ["t1", "t2", "t3", "t4"],
            "timestamp": pd.to_datetime(["2026-01-05", "1960-01-01", "2026-01-05", "2026-01-05"]),
            "account_id": ["a1", "a2", ["x"], "a4"],
            "amount": [1.0, 2.0, 3.0, 4.0],
            "merchant_id": [1.0, 2.0, 3.0, math.inf],
        },
        index=[1, 2, 3, 4],
    )

    frame, errors = frame_clean(raw)

    assert [(e.row, e.field, e.reason) for e in errors] == [
        (2, "timestamp", Reason.timestamp_range()),
        (3, "account_id", Reason.TEXT),
        (4, "merchant_id", Reason.TEXT),
    ]
    assert frame.index.tolist() == [1]


def test_a_file_attribute_that_is_infinite_or_too_big_refuses_its_row(tmp_path, settings):
    settings.ATTRIBUTES_MAX_BYTES = 200
    path = tmp_path / "rows.parquet"
    pd.DataFrame(
        {**{name: [value] * 3 for name, value in GOOD.items()}, "transaction_id": ["t1", "t2", "t3"]}
        | {"ratio": [1.5, math.inf, 2.0], "note": ["ok", "ok", "x" * 300]}
    ).to_parquet(path)

    [chunk] = read_mapped_chunks(path, mapping={name: name for name in GOOD}, attributes=["*"])

    assert [(e.row, e.field, e.reason) for e in chunk.errors] == [
        (2, "ratio", Reason.NOT_FINITE),
        (3, "attributes", Reason.too_big()),
    ]
    assert chunk.frame["transaction_id"].tolist() == ["t1"]


def test_a_mapping_without_a_column_for_a_required_field_is_refused_up_front():
    with pytest.raises(MappingError, match="no column for the required field 'transaction_id'"):
        plan_columns(["colour", "size"], {}, [], None, ())


def test_more_attribute_columns_than_the_key_limit_are_refused_up_front(settings):
    settings.ATTRIBUTES_MAX_KEYS = 3
    columns = [*GOOD, "a", "b", "c", "d"]

    with pytest.raises(MappingError, match="4 columns to keep as attributes; at most 3"):
        plan_columns(columns, {name: name for name in GOOD}, ["*"], None, ())


def test_a_csv_file_that_is_not_utf8_is_refused_naming_the_byte_and_line(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"transaction_id,account_id\nt1,a1\nt2,caf\xe9\n")

    with pytest.raises(UnreadableFile, match=r"byte 38 \(line 3\) is not valid UTF-8"):
        check_readable(path)


def test_a_utf8_file_cut_in_the_middle_of_a_character_is_refused(tmp_path):
    path = tmp_path / "cut.csv"
    path.write_bytes("transaction_id\ncafé".encode()[:-1])

    with pytest.raises(UnreadableFile, match="not valid UTF-8"):
        check_readable(path)


def test_a_utf8_file_is_readable(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_bytes("transaction_id\ncafé\n".encode() * 100_000)

    check_readable(path)


def test_a_file_whose_every_time_is_recent_enough_keeps_every_row(tmp_path):
    path = tmp_path / "recent.csv"
    moment = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    path.write_text(f"transaction_id,timestamp,account_id,amount\nt1,{moment},a1,1\n")

    [chunk] = read_mapped_chunks(path, mapping={name: name for name in GOOD})

    assert chunk.errors == [] and len(chunk.frame) == 1


@pytest.mark.django_db
def test_an_import_of_a_file_not_utf8_throughout_stores_nothing_and_says_where(tmp_path, organisation):
    path = tmp_path / "late.csv"
    good = "".join(f"t{n},2026-01-05 10:00:00,a1,1\n" for n in range(2000))
    path.write_bytes(f"transaction_id,timestamp,account_id,amount\n{good}".encode() + b"t9,2026-01-05,caf\xe9,1\n")

    with pytest.raises(CommandError, match=r"\(line 2002\) is not valid UTF-8"):
        call_command("import_transactions", str(path), "--map", *(f"{n}={n}" for n in GOOD), "--chunk-rows", "500")

    assert not Transaction.objects.exists()
