"""Adapt stored transactions to the engine's frame, and back: the only place Django rows meet the engine.

The engine frame has the columns row_id, ts, account_id, merchant_id, amount, channel, country,
merchant_category, latitude, longitude, location_distance_km, attr_<name>..., label, label_known_ts.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.db import connection

from detection.engine.features import ACCOUNT_LOOKBACK_SECONDS, MERCHANT_LOOKBACK_SECONDS
from transactions.models import Transaction

_BASE_COLUMNS = (
    "id",
    "timestamp",
    "account_id",
    "merchant_id",
    "amount",
    "channel",
    "country",
    "merchant_category",
    "latitude",
    "longitude",
    "location_distance_km",
    "label",
    "labelled_at",
)
_SELECT = ", ".join(f"t.{c}" for c in _BASE_COLUMNS)
# Built from constant column names only; the values are bound parameters.
_HISTORY_SQL = (
    f"SELECT {_SELECT} FROM transactions_transaction t "  # noqa: S608
    "WHERE t.account_id = ANY(%s) AND t.timestamp >= %s AND t.timestamp <= %s "
    "UNION "
    f"SELECT {_SELECT} FROM transactions_transaction t "
    "WHERE t.merchant_id = ANY(%s) AND t.timestamp >= %s AND t.timestamp <= %s"
)


def _epoch_seconds(values: Iterable[datetime | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v.timestamp() for v in values], dtype=np.float64)


def _frame_from_tuples(rows: Sequence[tuple], attributes: dict[int, dict] | None = None) -> dict[str, np.ndarray]:
    if not rows:
        rows_by_column = dict.fromkeys(_BASE_COLUMNS, ())
    else:
        rows_by_column = dict(zip(_BASE_COLUMNS, zip(*rows, strict=True), strict=True))
    frame = {
        "row_id": np.asarray(rows_by_column["id"], dtype=np.int64),
        "ts": _epoch_seconds(rows_by_column["timestamp"]).astype(np.int64),
        "account_id": np.asarray(rows_by_column["account_id"], dtype=object),
        "merchant_id": np.asarray(rows_by_column["merchant_id"], dtype=object),
        "amount": np.asarray(rows_by_column["amount"], dtype=np.float64),
        "channel": np.asarray(rows_by_column["channel"], dtype=object),
        "country": np.asarray(rows_by_column["country"], dtype=object),
        "merchant_category": np.asarray(rows_by_column["merchant_category"], dtype=object),
        "latitude": np.asarray(rows_by_column["latitude"], dtype=np.float64),
        "longitude": np.asarray(rows_by_column["longitude"], dtype=np.float64),
        "location_distance_km": np.asarray(rows_by_column["location_distance_km"], dtype=np.float64),
        "label": np.array([np.nan if v is None else float(v) for v in rows_by_column["label"]], dtype=np.float64),
        "label_known_ts": _epoch_seconds(rows_by_column["labelled_at"]),
    }
    if attributes:
        frame = _with_attributes(frame, attributes)
    return frame


def _with_attributes(frame: dict[str, np.ndarray], attributes: dict[int, dict]) -> dict[str, np.ndarray]:
    names = sorted({key for attrs in attributes.values() for key in attrs})
    for name in names:
        values = [attributes.get(row_id, {}).get(name) for row_id in frame["row_id"].tolist()]
        frame[f"attr_{name}"] = np.array(values, dtype=object)
    return frame


def frame_for_transactions(transactions: Sequence[Transaction]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The targets plus every stored row their features may read: the account's and the merchant's history.

    Returns the frame and a boolean mask of the target rows. History is bounded by the engine's lookbacks, so
    the features are exactly those the batch path computes over the whole table.
    """
    if not transactions:
        return _frame_from_tuples([]), np.zeros(0, dtype=bool)
    accounts = sorted({t.account_id for t in transactions})
    merchants = sorted({t.merchant_id for t in transactions if t.merchant_id})
    latest = max(t.timestamp for t in transactions)
    earliest = min(t.timestamp for t in transactions)
    rows = _history_rows(
        accounts=accounts,
        merchants=merchants,
        account_since=earliest - timedelta(seconds=ACCOUNT_LOOKBACK_SECONDS),
        merchant_since=earliest - timedelta(seconds=MERCHANT_LOOKBACK_SECONDS),
        until=latest,
    )
    target_ids = {t.pk for t in transactions}
    attributes = {t.pk: t.attributes for t in transactions if t.attributes}
    frame = _frame_from_tuples(rows, attributes)
    return frame, np.isin(frame["row_id"], np.fromiter(target_ids, dtype=np.int64))


def _history_rows(*, accounts, merchants, account_since, merchant_since, until) -> list[tuple]:
    """One round trip: the accounts' rows and the merchants' rows in their windows, each row once."""
    with connection.cursor() as cursor:
        cursor.execute(_HISTORY_SQL, [accounts, account_since, until, merchants, merchant_since, until])
        return cursor.fetchall()


def frame_for_window(*, since: datetime | None, until: datetime | None, limit: int | None = None) -> pd.DataFrame:
    """Every stored transaction in a time window (training, evaluation), attributes included."""
    queryset = Transaction.objects.order_by("timestamp", "id")
    if since is not None:
        queryset = queryset.filter(timestamp__gte=since)
    if until is not None:
        queryset = queryset.filter(timestamp__lt=until)
    if limit is not None:
        queryset = queryset.reverse()[:limit]
    rows = list(queryset.values_list(*_BASE_COLUMNS, "attributes"))
    attributes = {row[0]: row[-1] for row in rows if row[-1]}
    return pd.DataFrame(_frame_from_tuples([row[:-1] for row in rows], attributes))
