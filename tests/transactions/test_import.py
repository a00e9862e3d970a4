"""File import: CSV with good and bad rows, Parquet, chunking, attributes, duplicates and mapping errors."""

import pandas as pd
import pytest

from tests.factories import SourceFactory
from tests.transactions.csv_files import SEED_HEADER, write_csv
from transactions.files import MappingError, guess_label_column, guess_mapping, read_mapped_chunks
from transactions.models import LabelEvent, Transaction
from transactions.services import transactions_import_file
from transactions.validation import Reason, RowError

HEADER = ["id", "when", "user_id", "amount", "is_online", "count_1h", "note", "is_anomaly"]
ROWS = [
    ["t1", "2026-01-05 10:00:00", "u1", "12.50", "1", "3", "first", "0"],
    ["t2", "yesterday", "u1", "8.00", "0", "1", "", "0"],
    ["t3", "2026-01-05 10:05:00", "u2", "-4", "0", "2", "x", "1"],
    ["t4", "2026-01-05 10:06:00", "", "abc", "2", "1", "y", "0"],
    ["t5", "2026-01-05T10:07:00Z", "u2", "99.999", "0", "7", "last", "1"],
]
MAPPING = {
    "transaction_id": "id",
    "timestamp": "when",
    "account_id": "user_id",
    "amount": "amount",
    "channel": "is_online",
}


@pytest.fixture
def mixed_csv(tmp_path):
    return write_csv(tmp_path / "mixed.csv", [HEADER, *ROWS])


def _import(path, **options):
    source = options.pop("source", None) or SourceFactory(name="upload")
    return transactions_import_file(source=source, path=path, mapping=MAPPING, **options)


@pytest.mark.django_db
def test_every_valid_row_of_a_mixed_file_is_stored(mixed_csv):
    summary = _import(mixed_csv)

    assert (summary.rows, summary.stored, summary.rejected, summary.duplicates) == (5, 2, 3, 0)
    assert sorted(Transaction.objects.values_list("transaction_id", flat=True)) == ["t1", "t5"]


@pytest.mark.django_db
def test_each_bad_row_is_reported_with_its_field_and_reason(mixed_csv):
    summary = _import(mixed_csv)

    assert summary.errors == [
        RowError(2, "timestamp", Reason.NOT_A_DATE),
        RowError(3, "amount", Reason.NEGATIVE),
        RowError(4, "account_id", Reason.REQUIRED),
        RowError(4, "amount", Reason.NOT_A_NUMBER),
        RowError(4, "channel", Reason.CHANNEL),
    ]
    assert summary.reasons[("amount", Reason.NEGATIVE)] == 1


@pytest.mark.django_db
def test_stored_rows_carry_mapped_values_attributes_and_labels(mixed_csv):
    _import(mixed_csv, attributes=["count_1h", "note"], label_column="is_anomaly")

    first, last = Transaction.objects.order_by("transaction_id")
    assert (first.account_id, str(first.amount), first.channel, first.label) == ("u1", "12.50", "online", 0)
    assert (str(last.amount), last.channel, last.label, last.label_source) == ("100.00", "in_person", 1, "import")
    assert first.attributes == {"count_1h": 3, "note": "first"}
    assert sorted(LabelEvent.objects.values_list("transaction__transaction_id", "label", "source")) == [
        ("t1", 0, "import"),
        ("t5", 1, "import"),
    ]


@pytest.mark.django_db
def test_importing_the_same_file_again_stores_nothing_new(mixed_csv):
    source = SourceFactory(name="twice")
    _import(mixed_csv, source=source)

    again = _import(mixed_csv, source=source)

    assert (again.stored, again.duplicates, again.rejected) == (0, 2, 3)
    assert Transaction.objects.count() == 2


@pytest.mark.django_db
def test_small_chunks_store_the_same_rows_with_file_row_numbers(mixed_csv):
    progress = []

    summary = _import(mixed_csv, chunk_rows=2, on_progress=lambda s: progress.append(s.rows))

    assert progress == [2, 4, 5]
    assert summary.stored == 2
    assert [error.row for error in summary.errors] == [2, 3, 4, 4, 4]


@pytest.mark.django_db
def test_a_parquet_file_imports_with_its_label_and_typed_columns(tmp_path):
    path = tmp_path / "handbook.parquet"
    pd.DataFrame(
        {
            "TRANSACTION_ID": [0, 1, 2],
            "TX_DATETIME": pd.to_datetime(["2018-04-01 00:00:31", "2018-04-01 00:02:10", "2018-04-01 00:07:56"]),
            "CUSTOMER_ID": [596, 4961, 2],
            "TERMINAL_ID": [3156, 3412, 1365],
            "TX_AMOUNT": [57.16, 81.51, 146.0],
            "TX_FRAUD": [0, 1, 0],
            "TX_FRAUD_SCENARIO": [0, 1, 0],
        }
    ).to_parquet(path)
    mapping = {
        "transaction_id": "TRANSACTION_ID",
        "timestamp": "TX_DATETIME",
        "account_id": "CUSTOMER_ID",
        "merchant_id": "TERMINAL_ID",
        "amount": "TX_AMOUNT",
    }

    summary = transactions_import_file(
        source=SourceFactory(), path=path, mapping=mapping, label_column="TX_FRAUD", exclude=["TX_FRAUD_SCENARIO"]
    )

    assert (summary.stored, summary.rejected) == (3, 0)
    fraud = Transaction.objects.get(label=1)
    assert (fraud.transaction_id, fraud.account_id, fraud.merchant_id) == ("1", "4961", "3412")
    assert fraud.timestamp.isoformat() == "2018-04-01T00:02:10+00:00"


@pytest.mark.django_db
def test_rows_a_database_would_refuse_are_reported_and_the_others_stored(tmp_path):
    path = tmp_path / "odd.parquet"
    pd.DataFrame(
        {
            "id": ["t1", "t2", "t3", "t4"],
            "when": ["2026-01-05 10:00:00"] * 4,
            "user_id": ["u1", "u\x002", "u3", "u4"],
            "amount": ["12.50", "8.00", "1e30", "3.00"],
            "is_online": ["1", "0", "0", "1"],
            "note": ["first", "", None, "bad\x00note"],
        }
    ).to_parquet(path)

    summary = transactions_import_file(source=SourceFactory(), path=path, mapping=MAPPING, attributes=["note"])

    assert summary.errors == [
        RowError(2, "account_id", Reason.NUL),
        RowError(3, "amount", Reason.TOO_LARGE),
        RowError(4, "note", Reason.NUL),
    ]
    assert (summary.stored, summary.rejected) == (1, 3)
    assert Transaction.objects.get().attributes == {"note": "first"}


def test_a_mapped_column_missing_from_the_file_is_named(mixed_csv):
    with pytest.raises(MappingError, match="'customer' is not in the file"):
        list(read_mapped_chunks(mixed_csv, mapping={**MAPPING, "account_id": "customer"}))


def test_an_excluded_column_cannot_be_mapped_or_kept(mixed_csv):
    with pytest.raises(MappingError, match="'is_anomaly' is excluded"):
        list(read_mapped_chunks(mixed_csv, mapping=MAPPING, label_column="is_anomaly", exclude=["is_anomaly"]))


def test_all_other_columns_as_attributes_leave_out_excluded_ones(mixed_csv):
    [chunk] = read_mapped_chunks(mixed_csv, mapping=MAPPING, attributes=["*"], exclude=["is_anomaly"])

    assert [name for name in chunk.frame.columns if name.startswith("attr_")] == ["attr_count_1h", "attr_note"]


def test_an_unknown_field_is_refused(mixed_csv):
    with pytest.raises(MappingError, match="unknown field 'colour'"):
        list(read_mapped_chunks(mixed_csv, mapping={**MAPPING, "colour": "note"}))


def test_guess_mapping_reads_the_seed_and_handbook_headers():
    seed = SEED_HEADER
    handbook = ["TRANSACTION_ID", "TX_DATETIME", "CUSTOMER_ID", "TERMINAL_ID", "TX_AMOUNT", "TX_FRAUD"]

    assert guess_mapping(seed) == {
        "transaction_id": "transaction_id",
        "timestamp": "timestamp",
        "account_id": "user_id",
        "amount": "amount",
        "merchant_category": "merchant_category",
        "channel": "is_online",
        "location_distance_km": "location_distance_km",
    }
    assert guess_mapping(handbook) == {
        "transaction_id": "TRANSACTION_ID",
        "timestamp": "TX_DATETIME",
        "account_id": "CUSTOMER_ID",
        "amount": "TX_AMOUNT",
        "merchant_id": "TERMINAL_ID",
    }
    assert (guess_label_column(seed), guess_label_column(handbook)) == ("is_anomaly", "TX_FRAUD")


@pytest.mark.django_db(transaction=True)
def test_parallel_writers_store_every_valid_row_once(tmp_path):
    rows = [[f"t{n}", "2026-01-05 10:00:00", f"u{n % 7}", f"{n}.25", "0", "1", "", "0"] for n in range(40)]
    rows.append(["t3", "2026-01-05 10:00:00", "u3", "1", "0", "1", "", "0"])  # a repeat in a later chunk
    path = write_csv(tmp_path / "many.csv", [HEADER, *rows])

    summary = _import(path, chunk_rows=6, workers=2)

    assert (summary.rows, summary.stored, summary.duplicates, summary.rejected) == (41, 40, 1, 0)
    assert Transaction.objects.count() == 40
