"""The SQL behind ingest: multi-row INSERT for rows, COPY into a staging table for frames.

The unique constraint on transactions_transactionkey's (source_id, transaction_id), written by a trigger in the
same statement as the row (transactions 0009), decides which of two concurrent senders stores a row: the loser's
statement waits for the winner, fails on it, and goes again without the rows now stored, so that losing the race is
an ordinary "duplicate", never an error. Each insert first makes the partitions of its rows' months.
"""

import io
import json
from collections.abc import Sequence
from datetime import date
from operator import itemgetter
from typing import Any

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection
from django.db import transaction as db_transaction

from core.bulk_insert import COPY_ABOVE, copy_text, float_text, insert_returning
from transactions.models import LabelEvent, Transaction, TransactionKey
from transactions.partitions import transaction_months_ensure
from transactions.validation import CANONICAL_FIELDS

TABLE = Transaction._meta.db_table
EVENT_TABLE = LabelEvent._meta.db_table
KEY_TABLE = TransactionKey._meta.db_table
RACE_RETRIES = 3
ROW_COLUMNS = tuple(field for field in CANONICAL_FIELDS if field != "label")
STAGING_TYPES = {
    "transaction_id": "text",
    "timestamp": "timestamptz",
    "account_id": "text",
    "amount": "numeric",
    "currency": "text",
    "merchant_id": "text",
    "merchant_category": "text",
    "channel": "text",
    "latitude": "double precision",
    "longitude": "double precision",
    "location_distance_km": "double precision",
    "country": "text",
    "device_id": "text",
    "billing_latitude": "double precision",
    "billing_longitude": "double precision",
    "billing_postal_code": "text",
    "billing_country": "text",
    "shipping_latitude": "double precision",
    "shipping_longitude": "double precision",
    "shipping_postal_code": "text",
    "shipping_country": "text",
    "ip_country": "text",
    "label": "smallint",
}
INSERT_COLUMNS = (*ROW_COLUMNS, "attributes", "label", "label_source", "labelled_at", "source_id", "ingested_at")
JSON_PAIRS_PER_CALL = 40  # jsonb_build_object takes at most 100 arguments


# ---------------------------------------------------------------- rows (the API path)


def insert_rows(*, source_id: int, rows: Sequence[dict[str, Any]], label_source: str) -> dict[str, tuple[int, bool]]:
    """Insert clean rows, skipping ids the source already sent: {transaction_id: (pk, created)}.

    One INSERT whatever the number of rows (a transaction id sent twice in one call conflicts with its own first
    row and is skipped, as across calls).
    """
    outcome: dict[str, tuple[int, bool]] = {}
    if not rows:
        return outcome
    firsts = list({row["transaction_id"]: row for row in reversed(rows)}.values())[::-1]
    transaction_months_ensure(row["timestamp"] for row in firsts)
    returned = _insert_new(firsts, source_id, label_source)
    outcome.update({tx_id: (pk, True) for pk, tx_id in returned})
    missing = sorted({row["transaction_id"] for row in rows} - outcome.keys())
    if missing:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, transaction_id FROM {KEY_TABLE} WHERE source_id = %s AND transaction_id = ANY(%s)",  # noqa: S608
                [source_id, missing],
            )
            outcome.update({tx_id: (pk, False) for pk, tx_id in cursor.fetchall()})
    return outcome


SKIP_STORED = f"""WHERE NOT EXISTS (
    SELECT 1 FROM {KEY_TABLE} k WHERE k.source_id = s.source_id AND k.transaction_id = s.transaction_id
) RETURNING id, transaction_id"""  # noqa: S608


def _insert_new(rows: Sequence[dict[str, Any]], source_id: int, label_source: str) -> list[tuple]:
    """(id, transaction_id) of the rows stored now, of distinct ids."""
    insert = _insert_arguments(rows, source_id, label_source)
    return race_retried(lambda: insert_returning(**insert, suffix=SKIP_STORED))


def race_retried(insert):
    """`insert()` in a savepoint, again when a concurrent sender stored one of its ids first (its unique violation
    came after waiting for that sender's commit, so the next try sees the row and skips it)."""
    for attempt in range(1, RACE_RETRIES + 1):
        try:
            with db_transaction.atomic():
                return insert()
        except IntegrityError as error:
            if attempt == RACE_RETRIES or not isinstance(error.__cause__, psycopg.errors.UniqueViolation):
                raise
    raise AssertionError("unreachable")


def _insert_arguments(rows: Sequence[dict[str, Any]], source_id: int, label_source: str) -> dict[str, Any]:
    large = len(rows) > COPY_ABOVE
    return {
        "table": TABLE,
        "into": INSERT_COLUMNS,
        "columns": _ROW_TYPES,
        "rows": () if large else [_row_values(row, source_id, label_source) for row in rows],
        "copy_lines": _copy_lines(rows, source_id, label_source) if large else (),
        "select": f"{', '.join(f's.{name}' for name, _ in _ROW_TYPES)}, now()",
    }


# The staged columns, in INSERT_COLUMNS order (ingested_at is now()).
_ROW_TYPES = (
    *((name, STAGING_TYPES[name]) for name in ROW_COLUMNS),
    ("attributes", "jsonb"),
    ("label", "smallint"),
    ("label_source", "text"),
    ("labelled_at", "timestamptz"),
    ("source_id", "bigint"),
)
_JSON = DjangoJSONEncoder()  # made once: json.dumps(..., cls=DjangoJSONEncoder) would make one per row


def attributes_as_stored(attributes: dict[str, Any]) -> dict[str, Any]:
    """Attributes as the database gives them back: their JSON as the inserts write it, read again (numbers equal,
    a Decimal or a datetime as the text it was stored as)."""
    return json.loads(_JSON.encode(attributes)) if attributes else {}


def _row_values(row: dict[str, Any], source_id: int, label_source: str) -> tuple:
    label = row.get("label")
    return (
        *(row[name] for name in ROW_COLUMNS),
        _JSON.encode(row.get("attributes") or {}),
        label,
        label_source if label is not None else "",
        row["labelled_at"] if label is not None else None,
        source_id,
    )


def _copy_lines(rows: Sequence[dict[str, Any]], source_id: int, label_source: str) -> list[str]:
    """_row_values's rows in COPY's text format, one line each: cheaper than psycopg's per-row writer (its dumpers,
    a Python call per row) and a tuple per row.

    Text that could need escaping (a tab, newline, backslash, any unprintable character) takes copy_text; JSON
    from the encoder has no raw control characters (ensure_ascii), only backslashes to double. Datetimes are
    ISO 8601 with their offset, amounts Decimal's own spelling, floats their shortest repr (what psycopg writes).
    """
    unlabelled, label_source = f"\\N\t\t\\N\t{source_id}\n", copy_text(label_source)
    lines = []
    for row in rows:
        texts = (row["transaction_id"], row["account_id"], row["currency"], row["merchant_id"])
        texts += (row["merchant_category"], row["channel"], row["country"], row["device_id"])
        probe = "".join(texts)
        if not probe.isprintable() or "\\" in probe:
            texts = tuple(copy_text(text) for text in texts)
        tx, account, currency, merchant, category, channel, country, device = texts
        label, attributes = row.get("label"), row.get("attributes")
        attributes = copy_text(_JSON.encode(attributes)) if attributes else "{}"
        tail = unlabelled
        if label is not None:
            tail = f"{label}\t{label_source}\t{row['labelled_at'].isoformat()}\t{source_id}\n"
        lines.append(
            f"{tx}\t{row['timestamp'].isoformat()}\t{account}\t{row['amount']!s}\t{currency}\t{merchant}\t{category}"
            f"\t{channel}\t{_copy_float(row['latitude'])}\t{_copy_float(row['longitude'])}"
            f"\t{_copy_float(row['location_distance_km'])}\t{country}\t{device}\t{_copy_places(row)}{attributes}\t{tail}"
        )
    return lines


_PLACE_FLOATS = ("billing_latitude", "billing_longitude", "shipping_latitude", "shipping_longitude")
_PLACE_TEXTS = ("billing_postal_code", "billing_country", "shipping_postal_code", "shipping_country", "ip_country")
_NO_PLACES = "\\N\t\\N\t\t\t\\N\t\\N\t\t\t\t"
# A cleaned row without places holds None in each place float and "" in each place text: one tuple to compare.
_PLACE_VALUES = itemgetter(*_PLACE_FLOATS, *_PLACE_TEXTS)
_NONE_GIVEN = (None,) * len(_PLACE_FLOATS) + ("",) * len(_PLACE_TEXTS)


def _copy_places(row: dict[str, Any]) -> str:
    """The card-not-present fields in COPY's text format, each followed by a tab (in PLACE_FIELDS' order); the usual
    row, which has none, costs one comparison."""
    try:
        if _PLACE_VALUES(row) == _NONE_GIVEN:
            return _NO_PLACES
    except KeyError:  # a row without some place field: none given there
        pass
    if not any(row.get(name) not in (None, "") for name in (*_PLACE_FLOATS, *_PLACE_TEXTS)):
        return _NO_PLACES
    out = []
    for place in ("billing", "shipping"):
        out += [_copy_float(row[f"{place}_latitude"]), _copy_float(row[f"{place}_longitude"])]
        out += [copy_text(row[f"{place}_postal_code"]), copy_text(row[f"{place}_country"])]
    out.append(copy_text(row["ip_country"]))
    return "\t".join(out) + "\t"


def _copy_float(value: float | None) -> str:
    return "\\N" if value is None else float_text(value)


# ---------------------------------------------------------------- frames (files, the generator)


def copy_frame(*, source_id: int, frame: pd.DataFrame, attributes: Sequence[str], label_source: str) -> int:
    """Store a clean canonical frame through COPY into a staging table; returns how many rows were new.

    `attributes` are the names behind the frame's `attr_<name>` columns; they become the JSON `attributes`.
    New rows that carry a label get a LabelEvent in the same statement. Call inside a transaction.
    """
    if frame.empty:
        return 0
    table = _staging_table(frame, attributes)
    times = pd.to_datetime(frame["timestamp"], utc=True)
    months = (times.dt.year * 100 + times.dt.month).dropna().unique()
    transaction_months_ensure(date(int(m) // 100, int(m) % 100, 1) for m in months)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS tx_staging")
        cursor.execute(f"CREATE TEMP TABLE tx_staging ({_staging_columns(table)}) ON COMMIT DROP")
        with cursor.copy("COPY tx_staging FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(_csv_bytes(table))
        sql = _insert_select_sql(attributes)
        stored = race_retried(lambda: _fetch_one(cursor, sql, [label_source, source_id, source_id, label_source]))
        cursor.execute("DROP TABLE tx_staging")
    return stored


def _fetch_one(cursor, sql: str, params: list) -> Any:
    cursor.execute(sql, params)
    return cursor.fetchone()[0]


def _staging_table(frame: pd.DataFrame, attributes: Sequence[str]) -> pa.Table:
    columns = {name: frame[name] for name in STAGING_TYPES}
    columns["label"] = frame["label"].astype("Int64")
    columns["timestamp"] = frame["timestamp"].astype("datetime64[us, UTC]")
    for position, name in enumerate(attributes):
        columns[f"a{position}"] = _attribute_column(frame[f"attr_{name}"])
    return pa.Table.from_pandas(pd.DataFrame(columns), preserve_index=False)


def _attribute_column(column: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        return column
    return column.astype("str").where(column.notna())


def _staging_columns(table: pa.Table) -> str:
    definitions = []
    for name, kind in zip(table.column_names, table.schema.types, strict=True):
        sql_type = STAGING_TYPES.get(name) or _attribute_sql_type(kind)
        definitions.append(f'"{name}" {sql_type}')
    return ", ".join(definitions)


def _attribute_sql_type(kind: pa.DataType) -> str:
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_integer(kind):
        return "bigint"
    if pa.types.is_floating(kind):
        return "double precision"
    return "text"


def _csv_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False))
    return buffer.getvalue()


def _attributes_sql(attributes: Sequence[str]) -> str:
    if not attributes:
        return "'{}'::jsonb"
    pairs = [f"{_sql_literal(name)}, s.a{position}" for position, name in enumerate(attributes)]
    calls = [
        f"jsonb_build_object({', '.join(pairs[start : start + JSON_PAIRS_PER_CALL])})"
        for start in range(0, len(pairs), JSON_PAIRS_PER_CALL)
    ]
    return f"jsonb_strip_nulls({' || '.join(calls)})"


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _insert_select_sql(attributes: Sequence[str]) -> str:
    selected = ", ".join("round(s.amount, 2)" if name == "amount" else f"s.{name}" for name in ROW_COLUMNS)
    return f"""
        WITH inserted AS (
            INSERT INTO {TABLE} ({", ".join(INSERT_COLUMNS)})
            SELECT {selected}, {_attributes_sql(attributes)}, s.label,
                   CASE WHEN s.label IS NULL THEN '' ELSE %s END,
                   CASE WHEN s.label IS NULL THEN NULL ELSE now() END,
                   %s, now()
            FROM (SELECT DISTINCT ON (transaction_id) * FROM tx_staging ORDER BY transaction_id, ctid) s
            WHERE NOT EXISTS (
                SELECT 1 FROM {KEY_TABLE} k WHERE k.source_id = %s AND k.transaction_id = s.transaction_id
            )
            RETURNING id, label, labelled_at
        ), events AS (
            INSERT INTO {EVENT_TABLE} (transaction_id, label, source, created_at, note)
            SELECT id, label, %s, labelled_at, '' FROM inserted WHERE label IS NOT NULL
        )
        SELECT count(*) FROM inserted
    """  # noqa: S608
