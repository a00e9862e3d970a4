"""Adapt stored transactions to the engine's frame, and back: the only place Django rows meet the engine.

Every read is of one organisation's transactions (those of its sources): its accounts' and merchants' histories,
labels and training windows are its own, whatever another organisation sends under the same ids.

The engine frame has the columns row_id, ts, account_id, merchant_id, amount, channel, country,
merchant_category, latitude, longitude, location_distance_km, attr_<name>..., label, label_known_ts, and the
card-not-present places (PLACE_COLUMNS) that at least one of its rows has: every frame built here, for training and
for serving alike, carries them so (a frame of rows without places has exactly the columns it had before places
existed, as the engine's ``Frame.of`` would leave them out).
"""

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection

from detection.engine.features import ACCOUNT_LOOKBACK_SECONDS, MERCHANT_LOOKBACK_SECONDS
from detection.engine.frame import PLACE_COLUMNS, PLACE_FLOAT, PLACE_TEXT
from detection.frame_fields import ENGINE_FIELDS
from detection.scoring import history
from transactions.bulk import attributes_as_stored
from transactions.models import Source, Transaction
from transactions.validation import timestamp_min as scorable_since

# The stored columns the engine's frame is built from: the primary key, the fields it reads, when labels came, and
# the source (which tells the organisation: the history cache holds every organisation's rows), and the
# card-not-present places.
_ENGINE_COLUMNS = tuple(name for name in ENGINE_FIELDS if name != "transaction_id")
_BASE_COLUMNS = ("id", *_ENGINE_COLUMNS, "labelled_at", "source_id", *PLACE_COLUMNS)
# Times come back as epoch seconds and amounts as floats: parsing datetimes and decimals row by row in Python
# costs more than the query itself.
_AS_FLOAT = {
    "timestamp": "extract(epoch from t.timestamp)::float8",
    "amount": "t.amount::float8",
    "label": "t.label::float8",
    "labelled_at": "extract(epoch from t.labelled_at)::float8",
}
_SELECT = ", ".join(_AS_FLOAT.get(name, f"t.{name}") for name in _BASE_COLUMNS)
# Built from constant column names only; the values are bound parameters.
_HISTORY_SQL = (
    f"SELECT {_SELECT} FROM transactions_transaction t "  # noqa: S608
    "WHERE t.account_id = ANY(%s) AND t.timestamp >= %s AND t.timestamp <= %s AND t.source_id = ANY(%s) "
    "UNION ALL "
    f"SELECT {_SELECT} FROM transactions_transaction t "
    "WHERE t.merchant_id = ANY(%s) AND t.timestamp >= %s AND t.timestamp <= %s AND t.source_id = ANY(%s)"
)
_TEXT_COLUMNS = ("account_id", "merchant_id", "channel", "country", "merchant_category")
# Columns that may be NULL: read as floats, NaN for NULL.
_NULLABLE_FLOATS = ("latitude", "longitude", "location_distance_km", "label", "labelled_at", *PLACE_FLOAT)
_FLOAT_COLUMNS = ("timestamp", "amount", *_NULLABLE_FLOATS)
_ALL_TEXT = (*_TEXT_COLUMNS, *PLACE_TEXT)  # NOT NULL text ("" = none)
# Above this many targets the history is streamed with COPY and parsed by pandas' C reader.
COPY_THRESHOLD = 64


def _frame_from_columns(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {
        "row_id": np.asarray(columns["id"], dtype=np.int64),
        "ts": np.asarray(columns["timestamp"], dtype=np.float64).astype(np.int64),
        **{name: _text(columns[name]) for name in _TEXT_COLUMNS},
        **{
            name: np.asarray(columns[name], dtype=np.float64)
            for name in ("amount", "latitude", "longitude", "location_distance_km", "label")
        },
        "label_known_ts": np.asarray(columns["labelled_at"], dtype=np.float64),
        **_places(columns),
    }


def _places(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The card-not-present columns at least one row has (floats, NaN = none; text as objects, "" = none): the
    columns ``Frame.of`` keeps, so a frame of rows without places is exactly the frame read before places existed."""
    places = {}
    for name in PLACE_FLOAT:
        values = np.asarray(columns[name], dtype=np.float64)
        if not np.isnan(values).all():
            places[name] = values
    for name in PLACE_TEXT:
        values = columns[name]
        if isinstance(values, pd.Categorical):  # the history cache's codes: looked at as codes, spelled out if used
            empty = np.asarray(values.categories == "", dtype=bool)
            if len(values) and not empty[values.codes].all():
                places[name] = np.asarray(values, dtype=object)
        else:
            values = np.asarray(values, dtype=object)
            if (values != "").any():
                places[name] = values
    return places


def _text(values) -> np.ndarray | pd.Categorical:
    """Text as the engine takes it: object arrays, or the history cache's categoricals as they are."""
    return values if isinstance(values, pd.Categorical) else np.asarray(values, dtype=object)


def _columns_from_tuples(rows: Sequence[tuple]) -> dict[str, np.ndarray]:
    transposed = zip(*rows, strict=True) if rows else ([] for _ in _BASE_COLUMNS)
    columns = dict(zip(_BASE_COLUMNS, (np.array(c, dtype=object) for c in transposed), strict=True))
    for name in _NULLABLE_FLOATS:
        columns[name] = np.where(columns[name] == None, np.nan, columns[name]).astype(np.float64)  # noqa: E711
    columns["id"] = columns["id"].astype(np.int64)
    columns["source_id"] = columns["source_id"].astype(np.int64)
    for name in ("timestamp", "amount"):
        columns[name] = columns[name].astype(np.float64)
    return columns


def _frame_from_tuples(rows: Sequence[tuple], attributes: dict[int, dict] | None = None) -> dict[str, np.ndarray]:
    frame = _frame_from_columns(_columns_from_tuples(rows))
    if attributes:
        frame = _with_attributes(frame, attributes)
    return frame


def _with_attributes(frame: dict[str, np.ndarray], attributes: dict[int, dict]) -> dict[str, np.ndarray]:
    names = sorted({key for attrs in attributes.values() for key in attrs})
    for name in names:
        values = [attributes.get(row_id, {}).get(name) for row_id in frame["row_id"].tolist()]
        # One object per row, whatever the values: np.array would make lists of one length a second dimension.
        frame[f"attr_{name}"] = np.fromiter(values, dtype=object, count=len(values))
    return frame


def frame_for_transactions(
    transactions: Sequence[Transaction], *, organisation_id: int
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The targets plus every stored row their features may read: the account's and the merchant's history within
    the organisation.

    Returns the frame and a boolean mask of the target rows. History is bounded by the engine's lookbacks, so
    the features are exactly those the batch path computes over the whole table.
    """
    if not transactions:
        return _frame_from_tuples([]), np.zeros(0, dtype=bool)
    return _frame_for_targets(
        source_ids=organisation_source_ids(organisation_id),
        target_ids=np.fromiter({t.pk for t in transactions}, dtype=np.int64),
        accounts=sorted({t.account_id for t in transactions}),
        merchants=sorted({t.merchant_id for t in transactions if t.merchant_id}),
        earliest=min(t.timestamp for t in transactions),
        latest=max(t.timestamp for t in transactions),
        attributes={t.pk: t.attributes for t in transactions if t.attributes},
    )


@dataclass(frozen=True)
class StoredRows:
    """Stored transactions of one organisation to score: given by primary key (`pks`), or by a source and the
    sender's ids (`source_id`, `transaction_ids`).

    `written` gives, by primary key, the values the caller's open transaction stored for some of the `pks` (the
    ingest's cleaned rows, `IngestedRow.stored`): those are taken as they are instead of read back. They must be
    what the rows hold now (nothing changed them since), all stored by `written_source_id`. `written_final`: they
    are also what the transaction will commit, and it writes nothing else to the transactions table (the history
    cache then adopts them at commit).
    """

    pks: Sequence[int] = ()
    source_id: int | None = None
    transaction_ids: Sequence[str] = ()
    written: Mapping[int, Mapping[str, Any]] | None = None
    written_source_id: int | None = None
    written_final: bool = False

    @property
    def known_source_id(self) -> int | None:
        """A source the rows are known to be of (which tells their organisation), if any."""
        return self.source_id if self.source_id is not None else self.written_source_id


def frame_for_stored(stored: StoredRows, *, organisation_id: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """frame_for_transactions for stored transactions of one organisation, without building a model instance per
    row (bulk jobs score 50,000 at a time). Ids not stored, or stored by another organisation, are left out."""
    pks, source_id = stored.pks, stored.source_id
    wanted = set(pks) if source_id is None else set()
    written = {pk: values for pk, values in (stored.written or {}).items() if pk in wanted}
    rest = [pk for pk in pks if pk not in written]
    source_ids = organisation_source_ids(organisation_id)
    read = _stored_targets(pks=rest, source_id=source_id, transaction_ids=stored.transaction_ids, source_ids=source_ids)
    if not written and read is None:
        return _frame_from_tuples([]), np.zeros(0, dtype=bool)
    targets = _Targets.merge(_Targets.of_written(written) if written else None, read)
    return _frame_for_targets(
        source_ids=source_ids,
        target_ids=np.asarray(targets.ids, dtype=np.int64),
        accounts=sorted(targets.accounts),
        merchants=sorted(targets.merchants - {""}),
        earliest=targets.earliest,
        latest=targets.latest,
        attributes=targets.attributes,
        written=_written_columns(written, stored.written_source_id) if written else None,
        written_final=stored.written_final,
    )


@dataclass
class _Targets:
    """What the history read needs to know of the rows to score."""

    ids: list[int]
    accounts: set[str]
    merchants: set[str]
    earliest: datetime
    latest: datetime
    attributes: dict[int, dict]

    @classmethod
    def of_written(cls, written: Mapping[int, Mapping[str, Any]]) -> "_Targets":
        times = [values["timestamp"] for values in written.values()]
        return cls(
            ids=list(written),
            accounts={values["account_id"] for values in written.values()},
            merchants={values["merchant_id"] for values in written.values()},
            earliest=min(times),
            latest=max(times),
            attributes={pk: attributes_as_stored(v["attributes"]) for pk, v in written.items() if v.get("attributes")},
        )

    @classmethod
    def merge(cls, first: "_Targets | None", second: "_Targets | None") -> "_Targets":
        if first is None or second is None:
            return first or second
        return cls(
            ids=first.ids + second.ids,
            accounts=first.accounts | second.accounts,
            merchants=first.merchants | second.merchants,
            earliest=min(first.earliest, second.earliest),
            latest=max(first.latest, second.latest),
            attributes=first.attributes | second.attributes,
        )


def _stored_targets(
    *, pks: Sequence[int], source_id: int | None, transaction_ids: Sequence[str], source_ids: list[int]
) -> _Targets | None:
    """The targets as stored by the organisation's sources, given by primary key or by a source and the sender's
    ids; None when none is stored."""
    columns = (
        "SELECT id, account_id, merchant_id, extract(epoch from timestamp)::float8, "
        "CASE WHEN attributes = '{}'::jsonb THEN NULL ELSE attributes::text END FROM transactions_transaction "
    )
    if source_id is None:
        if not pks:
            return None
        # The range lets the planner see how few rows match: with a long id list alone it estimates one row per
        # element and may read the whole table where the index would read a few pages.
        ids = [int(pk) for pk in pks]
        query = columns + "WHERE id = ANY(%s::bigint[]) AND id BETWEEN %s AND %s AND source_id = ANY(%s)"
        params = [ids, min(ids, default=0), max(ids, default=-1), source_ids]
    else:
        # The source is the organisation's own (score_stored takes the organisation from it): no second filter.
        query = columns + "WHERE source_id = %s AND transaction_id = ANY(%s::text[])"
        params = [source_id, list(transaction_ids)]
    # Rows an older release stored before the ingest rules' first time are not scored (their history window would
    # start before the first representable date): left out, as if not stored.
    query, params = query + " AND timestamp >= %s", [*params, scorable_since()]
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        rows = cursor.fetchall()
        if not rows:
            return None
        target_ids = np.array([row[0] for row in rows], dtype=np.int64)
        epochs = np.array([row[3] for row in rows], dtype=np.float64)
        # The window's ends are the stored timestamps themselves, not float epochs (which may round a microsecond):
        # the few rows within a millisecond of either end are read by primary key.
        first = target_ids[epochs <= epochs.min() + 1e-3].tolist()
        last = target_ids[epochs >= epochs.max() - 1e-3].tolist()
        cursor.execute(
            "SELECT min(timestamp) FILTER (WHERE id = ANY(%s::bigint[])), "
            "max(timestamp) FILTER (WHERE id = ANY(%s::bigint[])) "
            "FROM transactions_transaction WHERE id = ANY(%s::bigint[])",
            [first, last, first + last],
        )
        earliest, latest = cursor.fetchone()
    return _Targets(
        ids=target_ids.tolist(),
        accounts={row[1] for row in rows},
        merchants={row[2] for row in rows},
        earliest=earliest,
        latest=latest,
        attributes={row[0]: json.loads(row[4]) for row in rows if row[4]},
    )


def _written_columns(written: Mapping[int, Mapping[str, Any]], source_id: int) -> dict[str, np.ndarray]:
    """Rows the caller stored, as the history read's columns: the same values the database gives back (a float of
    the stored cents, epoch seconds of the stored microseconds, both correctly rounded on either side).

    The rows are the ingest's cleaned rows, which carry every field (None or "" where none): read in one pass, then
    column by column (a NULL float is NaN, as numpy reads None into a float array)."""
    count = len(written)
    columns = dict(zip(_WRITTEN_FIELDS, zip(*map(_written_values, written.values()), strict=True), strict=True))
    labelled_at = zip(columns["label"], columns["labelled_at"], strict=True)
    return {
        "id": np.fromiter(written, dtype=np.int64, count=count),
        "source_id": np.full(count, source_id, dtype=np.int64),
        "timestamp": np.fromiter((at.timestamp() for at in columns["timestamp"]), dtype=np.float64, count=count),
        **{name: np.array(columns[name], dtype=object) for name in _TEXT_COLUMNS},
        "amount": np.fromiter(map(float, columns["amount"]), dtype=np.float64, count=count),
        **{name: np.array(columns[name], dtype=np.float64) for name in _WRITTEN_FLOATS},
        "labelled_at": np.fromiter(
            (_NAN if label is None else at.timestamp() for label, at in labelled_at), dtype=np.float64, count=count
        ),
        **{name: np.array([text or "" for text in columns[name]], dtype=object) for name in PLACE_TEXT},
    }


_NAN = float("nan")
_WRITTEN_FLOATS = ("latitude", "longitude", "location_distance_km", "label", *PLACE_FLOAT)
_WRITTEN_FIELDS = ("timestamp", *_TEXT_COLUMNS, "amount", "labelled_at", *_WRITTEN_FLOATS, *PLACE_TEXT)
_written_values = itemgetter(*_WRITTEN_FIELDS)


def _or_nan(value) -> float:
    return float("nan") if value is None else float(value)


def _frame_for_targets(
    *, source_ids, target_ids, accounts, merchants, earliest, latest, attributes, written=None, written_final=False
):
    window = {
        "source_ids": source_ids,
        "accounts": accounts,
        "merchants": merchants,
        "account_since": earliest - timedelta(seconds=ACCOUNT_LOOKBACK_SECONDS),
        "merchant_since": earliest - timedelta(seconds=MERCHANT_LOOKBACK_SECONDS),
        "until": latest,
    }
    # A single transaction's history is one indexed read; a batch's is about a hundred rows per transaction,
    # which the history cache holds in memory.
    use_cache = len(accounts) + len(merchants) > COPY_THRESHOLD
    cached = _cached_history(window, target_ids, written, written_final) if use_cache else None
    rows = cached if cached is not None else _history_rows(**window)  # the cache's rows come unique
    frame = _frame_from_columns(rows) if isinstance(rows, dict) else _frame_from_tuples(rows)
    frame = frame if cached is not None else _unique_rows(frame)
    frame = _with_attributes(frame, attributes) if attributes else frame
    return frame, np.isin(frame["row_id"], target_ids)


# The rows the caller's own open transaction wrote in the window: never cached, since it may still roll back.
_OWN_ROWS_SQL = (
    "WITH own AS MATERIALIZED (SELECT * FROM transactions_transaction "  # noqa: S608 - by the change_txid index
    "WHERE change_txid = txid_current_if_assigned()) "
    f"SELECT {_SELECT} FROM own t WHERE "
    "t.source_id = ANY(%s) AND ((t.account_id = ANY(%s) AND t.timestamp >= %s AND t.timestamp <= %s) OR "
    "(t.merchant_id = ANY(%s) AND t.timestamp >= %s AND t.timestamp <= %s))"
)


def _cached_history(
    window: dict, target_ids: np.ndarray, written: dict[str, np.ndarray] | None = None, final: bool = False
) -> dict[str, np.ndarray] | None:
    """The window's rows from the history cache plus this transaction's own rows; None to read them by SQL.

    `written` (rows the caller stored in this transaction, all of them targets) stands for the own rows when the
    transaction wrote nothing else: a count instead of reading them back. `final`: they are every row the
    transaction writes to the transactions table, before or after (`StoredRows.written_final`), so not even the count
    is needed, and the cache takes the rows in at commit (`adopt`).
    """
    cache = history.history_cache(_BASE_COLUMNS, _fetch_columns)
    if cache is None:
        return None
    if written is not None and final:  # every row this transaction writes: neither read back nor counted
        own = written
    else:
        params = [window["source_ids"], window["accounts"], window["account_since"], window["until"]]
        params += [window["merchants"], window["merchant_since"], window["until"]]
        with connection.cursor() as cursor:
            own = _own_rows(cursor, params, written)
    # Where this transaction changed a cached row, its version is kept; rows it alone wrote may be adopted.
    rows = cache.columns_for(**window, own=own, adopt=final and own is written)
    if rows is None:
        return None
    # A target the cache has not seen: be safe. Own rows are in `rows` (a batch's targets usually are all its own):
    # only the others are looked for among all the window's rows.
    others = target_ids[~np.isin(target_ids, own["id"])] if len(own["id"]) else target_ids
    if len(others) and not np.isin(others, rows["id"]).all():
        return None
    return rows


def _own_rows(cursor, params: list, written: dict[str, np.ndarray] | None) -> dict[str, np.ndarray]:
    """The rows this transaction wrote in the window: `written`, when they are all it wrote (each is a target, so
    inside the window), else read."""
    if written is not None:
        cursor.execute(_OWN_COUNT_SQL)
        if cursor.fetchone()[0] == len(written["id"]):
            return written
    cursor.execute(_OWN_ROWS_SQL, params)
    return _columns_from_tuples(cursor.fetchall())


_OWN_COUNT_SQL = "SELECT count(*) FROM transactions_transaction WHERE change_txid = txid_current_if_assigned()"


def _fetch_columns(
    conditions: str, params: list, *, copy: bool, table: str = "transactions_transaction"
) -> dict[str, np.ndarray]:
    """Rows of `table` (the transactions table, or a subquery of it) matching `conditions` (on alias t) as the
    adapters' columns."""
    sql = f"SELECT {_SELECT} FROM {table} t {conditions}"  # noqa: S608 - constant table and conditions
    with connection.cursor() as cursor:
        if copy:
            return _copy_columns(cursor, params, sql=sql)
        cursor.execute(sql, params)
        return _columns_from_tuples(cursor.fetchall())


def _unique_rows(frame: dict[str, np.ndarray], *, key: str = "row_id") -> dict[str, np.ndarray]:
    """A row in both the account's and the merchant's history came twice (UNION ALL is cheaper than UNION)."""
    _, first = np.unique(frame[key], return_index=True)
    if len(first) == len(frame[key]):
        return frame
    return {name: values[first] for name, values in frame.items()}


def _history_rows(*, source_ids, accounts, merchants, account_since, merchant_since, until) -> list[tuple] | dict:
    """One round trip: the accounts' rows and the merchants' rows in their windows, of the organisation's sources."""
    params = [accounts, account_since, until, source_ids, merchants, merchant_since, until, source_ids]
    with connection.cursor() as cursor:
        if len(accounts) + len(merchants) <= COPY_THRESHOLD:
            cursor.execute(_HISTORY_SQL, params)
            return cursor.fetchall()
        return _copy_columns(cursor, params)


def _copy_columns(cursor, params, *, sql: str = _HISTORY_SQL, extra: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Stream a query's rows with COPY and parse them with pandas' C reader: columns as numpy arrays."""
    buffer = io.BytesIO()
    with cursor.cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    table = pd.read_csv(
        buffer,
        header=None,
        names=[*_BASE_COLUMNS, *extra],
        # Floats even where no value is missing (every label known, every distance given): a column read as
        # integers would turn the NaN of the rows added to it later into the smallest int64.
        dtype={**dict.fromkeys(_FLOAT_COLUMNS, np.float64), **dict.fromkeys((*_ALL_TEXT, *extra), str)},
        keep_default_na=False,
        na_values={name: [""] for name in _BASE_COLUMNS if name not in _ALL_TEXT},
    )
    return {name: table[name].to_numpy() for name in (*_BASE_COLUMNS, *extra)}


def frame_for_window(
    *,
    organisation_id: int,
    since: datetime | None,
    until: datetime | None,
    limit: int | None = None,
    stored: Sequence[str] = (),
) -> pd.DataFrame:
    """Every transaction an organisation stored in a time window (training, evaluation), attributes included,
    oldest first.

    With `limit`, the newest `limit` transactions of the window. `stored`: columns of STORED_FIELDS to add (text).
    """
    stored = tuple(name for name in STORED_FIELDS if name in stored)
    conditions, params = ["t.source_id = ANY(%s)"], [organisation_source_ids(organisation_id)]
    if since is not None:
        conditions.append("t.timestamp >= %s")
        params.append(since)
    if until is not None:
        conditions.append("t.timestamp < %s")
        params.append(until)
    newest = f"ORDER BY t.timestamp DESC, t.id DESC LIMIT {int(limit)}" if limit else ""
    sql = (
        f"SELECT {_SELECT}, {''.join(f't.{name}, ' for name in stored)}"  # noqa: S608 - constant names
        "CASE WHEN t.attributes = '{}'::jsonb THEN '' ELSE t.attributes::text END "
        f"FROM transactions_transaction t WHERE {' AND '.join(conditions)} {newest}"
    )
    with connection.cursor() as cursor:
        columns = _copy_columns(cursor, params, sql=sql, extra=(*stored, "attributes"))
    frame = _frame_from_columns(columns)
    for name in stored:
        frame[name] = np.asarray(columns[name], dtype=object)
    attributes = {
        int(row_id): json.loads(text)
        for row_id, text in zip(frame["row_id"], columns["attributes"], strict=True)
        if isinstance(text, str) and text
    }
    frame = _with_attributes(frame, attributes) if attributes else frame
    return pd.DataFrame(frame).sort_values(["ts", "row_id"], kind="stable").reset_index(drop=True)


# Stored fields the engine's frame does not carry, which rules may read: text, NOT NULL ("" = none). (The
# card-not-present places are in the frame.)
STORED_FIELDS = ("device_id", "currency")
_STORED_SQL = (
    f"SELECT t.id, {', '.join(f't.{name}' for name in STORED_FIELDS)} FROM transactions_transaction t "  # noqa: S608
    "WHERE t.id = ANY(%s::bigint[]) "
    "AND t.source_id IN (SELECT s.id FROM transactions_source s WHERE s.organisation_id = %s)"
)


def stored_fields(*, organisation_id: int, row_ids: np.ndarray) -> dict[str, np.ndarray]:
    """STORED_FIELDS of some of an organisation's transactions (a scored frame's rows), aligned with `row_ids` (""
    where a row is not the organisation's): one query, whatever the number of rows."""
    row_ids = np.asarray(row_ids, dtype=np.int64)
    values = {name: np.full(len(row_ids), "", dtype=object) for name in STORED_FIELDS}
    if not len(row_ids):
        return values
    with connection.cursor() as cursor:
        cursor.execute(_STORED_SQL, [row_ids.tolist(), organisation_id])
        found = cursor.fetchall()
    if found:
        ids, *columns = zip(*found, strict=True)
        order = np.argsort(row_ids, kind="stable")
        where = order[np.searchsorted(row_ids, np.fromiter(ids, dtype=np.int64, count=len(ids)), sorter=order)]
        for name, column in zip(STORED_FIELDS, columns, strict=True):
            values[name][where] = column
    return values


def organisation_source_ids(organisation_id: int) -> list[int]:
    """The organisation's sources: its transactions are theirs, and its histories read only their rows."""
    return list(Source.objects.filter(organisation_id=organisation_id).values_list("id", flat=True))


def organisation_of(*, source_id: int) -> int:
    """A source's organisation (which never changes), remembered by this process."""
    organisation_id = _SOURCE_ORGANISATIONS.get(source_id)
    if organisation_id is None:
        organisation_id = Source.objects.values_list("organisation_id", flat=True).get(pk=source_id)
        _SOURCE_ORGANISATIONS[source_id] = organisation_id
    return organisation_id


_SOURCE_ORGANISATIONS: dict[int, int] = {}


_LOCATION_COLUMNS = ("latitude", "longitude", "location_distance_km", *PLACE_FLOAT)


def frame_with_unsaved(row: Mapping[str, Any], *, organisation_id: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The frame of one transaction that is not stored (a trial on the try page) and the organisation's stored history
    its features read, exactly as frame_for_transactions would give it were it stored: the same windows, the same
    query. `row` holds the engine frame's fields (timestamp an aware datetime); its row id is -1, which no stored row
    has. Returns the frame and the mask of that one row."""
    at: datetime = row["timestamp"]
    merchants = [row["merchant_id"]] if row.get("merchant_id") else []
    rows = _history_rows(
        source_ids=organisation_source_ids(organisation_id),
        accounts=[row["account_id"]],
        merchants=merchants,
        account_since=at - timedelta(seconds=ACCOUNT_LOOKBACK_SECONDS),
        merchant_since=at - timedelta(seconds=MERCHANT_LOOKBACK_SECONDS),
        until=at,
    )
    history_columns = _unique_rows(_columns_from_tuples(rows), key="id")
    nan = float("nan")
    target = {
        "id": -1,
        "source_id": -1,
        "timestamp": float(int(at.timestamp())),
        **{name: row.get(name) or "" for name in _ALL_TEXT},
        "amount": float(row["amount"]),
        **{name: _or_nan(row.get(name)) for name in _LOCATION_COLUMNS},
        "label": nan,
        "labelled_at": nan,
    }
    # The columns as the history read gives them, the trial last: one frame, its places those of either side.
    columns = {
        name: np.concatenate([values, np.array([target[name]], dtype=values.dtype)])
        for name, values in history_columns.items()
    }
    frame = _frame_from_columns(columns)
    return frame, frame["row_id"] == -1
