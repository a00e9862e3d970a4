"""A chunk of new ids goes by COPY straight into the table: the rows and label events it stores are those the staged
INSERT ... SELECT ... ON CONFLICT would store, and a chunk with an id stored already falls back to that path."""

from decimal import Decimal

import pytest
from django.db import connection

from tests.factories import SourceFactory
from tests.transactions.csv_files import write_csv
from transactions import bulk
from transactions.models import LabelEvent, Transaction
from transactions.services import transactions_import_file

HEADER = ["id", "when", "user_id", "shop", "amount", "is_fraud"]
ROWS = [
    ["a1", "2026-01-05 10:00:00", "u1", "m1", "12.345", "0"],
    ["a2", "2026-01-05 10:01:00", "u1", "", "0.005", "1"],
    ["a3", "2026-01-05T10:02:00+02:00", "u\\2", 'shop "x"', "99999.995", ""],
    ["a4", "2026-01-05 10:03:00", "u3,4", "m2", "7", ""],
]
MAPPING = {
    "transaction_id": "id",
    "timestamp": "when",
    "account_id": "user_id",
    "merchant_id": "shop",
    "amount": "amount",
}
COMPARED = [
    field.attname
    for field in Transaction._meta.concrete_fields
    if field.attname not in ("id", "source_id", "ingested_at", "labelled_at", "change_txid")
]


def _import(path, name, **options):
    source = SourceFactory(name=name)
    summary = transactions_import_file(source=source, path=path, mapping=MAPPING, label_column="is_fraud", **options)
    return source, summary


def _stored(source):
    rows = Transaction.objects.filter(source=source).order_by("transaction_id")
    return [
        {**{name: getattr(row, name) for name in COMPARED}, "labelled": row.labelled_at is not None} for row in rows
    ]


def _events(source):
    return sorted(
        LabelEvent.objects.filter(transaction__source=source).values_list(
            "transaction__transaction_id", "label", "source"
        )
    )


@pytest.mark.django_db(transaction=True)
def test_new_ids_go_straight_into_the_table_and_store_what_the_staged_path_stores(tmp_path, monkeypatch):
    path = write_csv(tmp_path / "rows.csv", [HEADER, *ROWS])
    copied = []
    real = bulk._copy_new
    monkeypatch.setattr(bulk, "_copy_new", lambda *a, **k: copied.append(real(*a, **k)) or copied[-1])
    direct, summary = _import(path, "direct")
    assert copied == [4] and summary.stored == 4
    monkeypatch.setattr(bulk, "_copy_new", lambda *a, **k: None)
    staged, _ = _import(path, "staged")

    assert _stored(direct) == _stored(staged)
    # Rounded as round(amount, 2) rounds, half away from zero.
    assert [row["amount"] for row in _stored(direct)] == [Decimal(v) for v in ("12.35", "0.01", "100000.00", "7.00")]
    assert _events(direct) == [("a1", 0, "import"), ("a2", 1, "import")] == _events(staged)
    with connection.cursor() as cursor:  # the same transaction stamped every row
        cursor.execute(
            "SELECT count(DISTINCT change_txid) FROM transactions_transaction WHERE source_id = %s", [direct.pk]
        )
        assert cursor.fetchone()[0] == 1


@pytest.mark.django_db(transaction=True)
def test_a_chunk_with_a_stored_id_falls_back_and_stores_only_the_new_rows(tmp_path):
    source, _ = _import(write_csv(tmp_path / "first.csv", [HEADER, *ROWS[:2]]), "again")
    summary = transactions_import_file(
        source=source, path=write_csv(tmp_path / "all.csv", [HEADER, *ROWS]), mapping=MAPPING, label_column="is_fraud"
    )

    assert (summary.stored, summary.duplicates) == (2, 2)
    assert Transaction.objects.filter(source=source).count() == 4
    assert LabelEvent.objects.filter(transaction__source=source).count() == 2


@pytest.mark.django_db(transaction=True)
def test_an_id_twice_in_one_chunk_takes_the_staged_path_and_keeps_the_first(tmp_path):
    rows = [*ROWS, ["a1", "2026-01-06 10:00:00", "u9", "m9", "1", "1"]]
    source, summary = _import(write_csv(tmp_path / "twice.csv", [HEADER, *rows]), "twice")

    assert (summary.stored, summary.duplicates) == (4, 1)
    assert Transaction.objects.get(source=source, transaction_id="a1").account_id == "u1"
